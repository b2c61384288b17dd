/**
 * The benchmark's workers: N agents in one process speaking the real protocol, whose "renderer"
 * returns a fixed tile for each tile of a scene (so honest replicas agree) without rendering
 * anything. They register with the operator's token (FARM_OPERATOR_TOKEN): the farm's own. Each
 * knows every orchestrator, starting with a different one, and takes `capacity` replicas a batch.
 * Usage: node --import tsx bench/noop-workers.ts <orchestrator,…> <count> [capacity]
 */
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';
import { startAgent } from '../worker/agent.ts';
import { startingWith } from '../worker/client.ts';

const [orchestrators, count, capacity = '1'] = process.argv.slice(2);
const log = pino({ level: 'error' });
const agents = await Promise.all(
  Array.from({ length: Number(count) }, async (_, i) => {
    const { privateKeyPem, publicKeyDer } = newKeyPair();
    const identity = { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer };
    return startAgent({
      orchestrator: startingWith(orchestrators.split(','), i),
      identity,
      name: `noop-${i}`,
      log,
      capacity: Number(capacity),
      operatorToken: process.env.FARM_OPERATOR_TOKEN,
      producer: {
        device: 'farm-noop/1+bench',
        async produce(a) {
          const shade = createHash('sha256').update(`${a.scene}.${a.frame}.${a.tile.x}.${a.tile.y}`).digest()[0];
          return { rgba: new Uint8Array(a.tile.width * a.tile.height * 4).fill(shade), rays: 0 };
        },
      },
    });
  }),
);
process.on('SIGTERM', () => Promise.all(agents.map((a) => a.stop())).finally(() => process.exit(0)));
