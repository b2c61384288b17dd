/**
 * The benchmarks' workers: agents speaking the real protocol, whose "renderer" returns a fixed
 * tile for each tile of a scene (so honest replicas agree) without rendering anything. They
 * register with the operator's token (FARM_OPERATOR_TOKEN): the farm's own. Each knows every
 * orchestrator, the i-th starting with a different one. `renderMs` makes each tile of work take
 * that long on average (uniformly 0.5–1.5×, so a swarm's agents drift apart), as a real render would.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';
import { type AgentOptions, type RunningAgent, startAgent } from '../worker/agent.ts';
import { startingWith } from '../worker/client.ts';

export function startNoopAgent(
  orchestrators: readonly string[],
  i: number,
  log: Logger,
  opts: Pick<AgentOptions, 'capacity' | 'onWork'> & { renderMs?: number } = {},
): Promise<RunningAgent> {
  const { renderMs = 0, ...agentOpts } = opts;
  const { privateKeyPem, publicKeyDer } = newKeyPair();
  return startAgent({
    orchestrator: startingWith(orchestrators, i),
    identity: { id: workerIdOf(publicKeyDer), key: loadPrivateKey(privateKeyPem).key, publicKeyDer },
    name: `noop-${i}`,
    log,
    operatorToken: process.env.FARM_OPERATOR_TOKEN,
    ...agentOpts,
    producer: {
      device: 'farm-noop/1+bench',
      async produce(a, _scene, purpose) {
        // Calibration is not timed: the swarm is measured once it runs.
        if (renderMs > 0 && purpose === 'work') await sleep(renderMs * (0.5 + Math.random()));
        // Every tile its own bytes (its hash, then its shade), as real tiles are: each result is a
        // new blob for the content store to write and copy, not one of 256.
        const digest = createHash('sha256').update(`${a.scene}.${a.frame}.${a.tile.x}.${a.tile.y}`).digest();
        const rgba = new Uint8Array(a.tile.width * a.tile.height * 4).fill(digest[0]);
        rgba.set(digest.subarray(0, Math.min(digest.length, rgba.length)));
        return { rgba, rays: 0 };
      },
    },
  });
}
