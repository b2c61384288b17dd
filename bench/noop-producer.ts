/**
 * The benchmarks' workers: agents speaking the real protocol, whose "renderer" returns a fixed
 * tile for each tile of a scene (so honest replicas agree) without rendering anything. They
 * register with the operator's token (FARM_OPERATOR_TOKEN): the farm's own. Each knows every
 * orchestrator, the i-th starting with a different one.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';
import { type AgentOptions, type RunningAgent, startAgent } from '../worker/agent.ts';
import { startingWith } from '../worker/client.ts';

export function startNoopAgent(
  orchestrators: readonly string[],
  i: number,
  log: Logger,
  opts: Pick<AgentOptions, 'capacity' | 'onWork'> = {},
): Promise<RunningAgent> {
  const { privateKeyPem, publicKeyDer } = newKeyPair();
  return startAgent({
    orchestrator: startingWith(orchestrators, i),
    identity: { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer },
    name: `noop-${i}`,
    log,
    operatorToken: process.env.FARM_OPERATOR_TOKEN,
    ...opts,
    producer: {
      device: 'farm-noop/1+bench',
      async produce(a) {
        const shade = createHash('sha256').update(`${a.scene}.${a.frame}.${a.tile.x}.${a.tile.y}`).digest()[0];
        return { rgba: new Uint8Array(a.tile.width * a.tile.height * 4).fill(shade), rays: 0 };
      },
    },
  });
}
