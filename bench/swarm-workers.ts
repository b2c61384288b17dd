/**
 * bench:swarm's light clients: `count` no-op agents in this process (noop-producer.ts), started
 * a few dozen at a time. Every two seconds it tells its parent how many run, the requests that
 * brought work (polls, and uploads that asked for more: when each began, its latency and the
 * replicas it brought), the requests sent, by kind, and the warnings logged (errors).
 * Usage: node --import tsx bench/swarm-workers.ts <orchestrator,…> <count> <first index> (RENDER_MS: each tile's time)
 */
import { pino } from 'pino';
import type { RunningAgent } from '../worker/agent.ts';
import { startNoopAgent } from './noop-producer.ts';

export interface SwarmReport {
  started: number;
  errors: number;
  /**
   * The requests that brought work since the last report (polls, and uploads that asked for more):
   * when each began (ms since the epoch), how long it took, and how many replicas it brought.
   */
  polls: { at: number; ms: number; replicas: number }[];
  /** Requests the agents sent since the last report, by kind (RequestKind). */
  requests: Partial<Record<RequestKind, number>>;
}

export type RequestKind = 'poll' | 'upload' | 'heartbeat' | 'scene' | 'other';
const kindOf = (path: string): RequestKind =>
  /^\/api\/work\/(next|batch)$/.test(path)
    ? 'poll'
    : /^\/api\/work\/(results|r[0-9a-f]+\/result)$/.test(path)
      ? 'upload'
      : path === '/api/work/heartbeat'
        ? 'heartbeat'
        : path.startsWith('/ipfs/')
          ? 'scene'
          : 'other';

const [orchestrators, count, first] = process.argv.slice(2);
const STEP = 50;
let errors = 0;
let polls: SwarmReport['polls'] = [];
let requests: SwarmReport['requests'] = {};
// Every request the agents send goes through fetch (worker/client.ts): counted by kind on its way.
const sendRequest = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const kind = kindOf(new URL(input instanceof Request ? input.url : input).pathname);
  requests[kind] = (requests[kind] ?? 0) + 1;
  return sendRequest(input, init);
};
// Warnings and errors are what this bench counts: a swarm that works logs none.
const log = pino(
  { level: 'warn' },
  {
    write(line: string) {
      if (++errors <= 3) process.stderr.write(line);
    },
  },
);
const agents: RunningAgent[] = [];
/** An agent whose loop ended (refused, or its calibration failed) is an error too. */
const watch = (agent: RunningAgent): RunningAgent => {
  agent.done.catch((err) => {
    if (++errors <= 3) process.stderr.write(`agent ended: ${(err as Error).message}\n`);
  });
  return agent;
};
const report = () => {
  if (process.connected) process.send?.({ started: agents.length, errors, polls, requests } satisfies SwarmReport);
  polls = [];
  requests = {};
};
setInterval(report, 2000);
const stop = () => Promise.all(agents.map((a) => a.stop())).finally(() => process.exit(0));
process.on('SIGTERM', stop);
// The bench that started it is gone: so is the swarm.
process.on('disconnect', stop);
// STEP agents starting at a time, the next as soon as one is running (not in locksteps of STEP,
// which would wait for the slowest of each).
let next = 0;
await Promise.all(
  Array.from({ length: STEP }, async () => {
    for (let i = next++; i < Number(count); i = next++) {
      // One that could not register (an orchestrator too busy to answer) is an error, not the end
      // of the thousands of others in this process.
      const agent = await startNoopAgent(orchestrators.split(','), Number(first) + i, log, {
        renderMs: Number(process.env.RENDER_MS ?? 0),
        onWork(ms, got) {
          polls.push({ at: Date.now() - ms, ms, replicas: got });
        },
      }).catch((err: Error) => void (++errors <= 3 && process.stderr.write(`agent not started: ${err.message}\n`)));
      if (agent) agents.push(watch(agent));
    }
  }),
);
report();
