/**
 * `npm run bench:swarm`: 10,000 simulated workers (light clients: no-op agents speaking the real
 * protocol, a few thousand per process) long-polling, heart-beating and uploading no-op tiles
 * against 3 orchestrator processes (each with its own IPFS node) on one Redis. While the swarm
 * grows it samples the orchestrators' and Redis' memory per 1,000 workers; then, with work
 * queued, it measures replicas/s, each poll's time to its assignment (p50, p99, and by when it
 * began, so that a job's first wave shows apart) and the CPU the
 * orchestrators and Redis spend per replica for DURATION seconds, and counts errors. Goal: no errors, p99 under 1 s, memory growing linearly.
 * Environment: WORKERS (10000), PROCESSES (4), ORCHESTRATORS (3), DURATION (60 s), RENDER_MS (0:
 * each agent polls again as soon as it uploads, so the farm runs at its capacity and a poll waits
 * its turn among all the others; a render time sets the load below it, as real tiles do),
 * ORCH_PROF (a directory: each orchestrator writes its CPU profile there when it stops).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer } from '../cli/redis-server.ts';
import { RequesterClient } from '../cli/requester.ts';
import { BENCH_TOKEN, type OrchestratorProcess, startOrchestratorProcess, stopProcess } from './orchestrator-process.ts';
import { percentile, processCpuSeconds, redisCpuSeconds, table, writeResult } from './support.ts';
import type { RequestKind, SwarmReport } from './swarm-workers.ts';

const WORKERS = Number(process.env.WORKERS ?? 10_000);
const PROCESSES = Number(process.env.PROCESSES ?? 4);
const ORCHESTRATORS = Number(process.env.ORCHESTRATORS ?? 3);
const DURATION_S = Number(process.env.DURATION ?? 60);
const RENDER_MS = Number(process.env.RENDER_MS ?? 0);
const GOAL_P99_MS = 1000;

const dir = mkdtempSync(join(tmpdir(), 'farm-swarm-'));
const redis = await startRedisServer({ dir: join(dir, 'redis') });
const admin = new Redis(redis.url);
// A big farm's settings: 20-s long-polls (the default) and heartbeats every 20 s (a third of the lease).
const farms: OrchestratorProcess[] = [];
for (let i = 0; i < ORCHESTRATORS; i++)
  farms.push(await startOrchestratorProcess(redis.url, join(dir, `data-${i}`), 'ipfs', { FARM_POLL_MS: '20000', FARM_LEASE_MS: '60000' }));
const urls = farms.map((f) => f.url);

const rssMb = (proc: ChildProcess) => {
  const line = readFileSync(`/proc/${proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return line ? Number(line[1]) / 1024 : 0;
};
/**
 * Connections the kernel refused for a full accept queue, machine-wide (Linux; 0 elsewhere): each
 * costs its client SYN-ACK retransmissions of 1, 3, 7… s, which is what a poll's tail shows.
 */
const listenOverflows = (): number => {
  const rows = (existsSync('/proc/net/netstat') ? readFileSync('/proc/net/netstat', 'utf8') : '').split('\n').map((l) => l.split(' '));
  const at = rows.findIndex((r) => r[0] === 'TcpExt:');
  return at < 0 ? 0 : Number(rows[at + 1][rows[at].indexOf('ListenOverflows')] ?? 0);
};
const redisMb = async () => Number((await admin.info('memory')).match(/used_memory:(\d+)/)?.[1] ?? 0) / 1048576;

const reports = new Map<number, SwarmReport>();
/**
 * The measured window: polls begun from `since` until `until`, whenever they end, and the replicas
 * brought by polls that ended inside it (by the agents' clocks, not by when their reports arrive).
 */
const window = {
  polls: [] as { at: number; ms: number }[],
  replicas: 0,
  requests: {} as Partial<Record<RequestKind, number>>,
  since: 0,
  until: 0,
};
/** How long after the window a poll begun inside it may still report: a long-poll's 20 s, and a report's 2. */
const LATE_POLLS_MS = 22_000;
const children = Array.from({ length: PROCESSES }, (_, p) => {
  const share = Math.floor(WORKERS / PROCESSES) + (p < WORKERS % PROCESSES ? 1 : 0);
  const first = p * Math.ceil(WORKERS / PROCESSES);
  const child = fork(new URL('./swarm-workers.ts', import.meta.url).pathname, [urls.join(','), String(share), String(first)], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, FARM_OPERATOR_TOKEN: BENCH_TOKEN },
  });
  child.on('message', (m: SwarmReport) => {
    reports.set(p, m);
    // Only polls begun while work was queued: one waiting since before the job came waited for no
    // reason of the farm's; and all of those, the long ones too, which end after the window.
    window.polls.push(...m.polls.filter((poll) => poll.at >= window.since && poll.at < window.until));
    for (const poll of m.polls) if (poll.at + poll.ms >= window.since && poll.at + poll.ms < window.until) window.replicas += poll.replicas;
    // Requests by when their report came (every 2 s): near enough for a count per replica.
    if (Date.now() >= window.since && Date.now() < window.until)
      for (const [kind, n] of Object.entries(m.requests) as [RequestKind, number][])
        window.requests[kind] = (window.requests[kind] ?? 0) + n;
  });
  return child;
});
/** The bench's own requests ride out an orchestrator too busy to answer at once (counted as errors). */
let benchErrors = 0;
async function patiently<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      benchErrors++;
      if (attempt >= 10) throw e;
      await sleep(2000);
    }
  }
}
const total = (key: 'started' | 'errors') => [...reports.values()].reduce((n, r) => n + r[key], 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The swarm grows: memory at each quarter.
const memory: { workers: number; orchestratorsMb: number; redisMb: number }[] = [
  { workers: 0, orchestratorsMb: farms.reduce((n, f) => n + rssMb(f.proc), 0), redisMb: await redisMb() },
];
const rampStarted = Date.now();
/** A swarm that stops growing for this long (its orchestrators saturated) is measured as it is. */
const STALL_MS = 60_000;
let grewAt = Date.now();
let stalled = false;
for (const quarter of [1, 2, 3, 4].map((q) => Math.round((WORKERS * q) / 4))) {
  let seen = total('started');
  while (!stalled && total('started') < quarter) {
    process.stderr.write(`  ${total('started').toLocaleString('en')} workers running\r`);
    await sleep(1000);
    if (total('started') > seen) [seen, grewAt] = [total('started'), Date.now()];
    stalled = Date.now() - grewAt > STALL_MS;
  }
  if (stalled && memory.at(-1)?.workers === total('started')) break;
  await sleep(3000); // their first heartbeats and polls
  memory.push({ workers: total('started'), orchestratorsMb: farms.reduce((n, f) => n + rssMb(f.proc), 0), redisMb: await redisMb() });
}
const rampSeconds = (Date.now() - rampStarted) / 1000;

// Work queued for longer than the window: 18,000 tiles of 8×8, 2 replicas each.
const client = new RequesterClient(urls[0], BENCH_TOKEN);
const scene = {
  version: 1,
  render: { width: 8 * 150, height: 8 * 120, spp: 1 },
  camera: { position: [0, 0, 5], lookAt: [0, 0, 0], fov: 40 },
  materials: [{ name: 'm', type: 'diffuse', albedo: [1, 1, 1] }],
  objects: [{ type: 'sphere', center: [0, 0, 0], radius: 1, material: 'm' }],
};
const { id } = await patiently(() => client.submit({ scene, tileSize: 8, replicas: 2, verification: 'quorum' }));
await sleep(5000); // planning issues the first slots
const errorsBefore = total('errors') + farms.reduce((n, f) => n + f.errors(), 0) + benchErrors;
const before = await patiently(() => client.status(id));
const overflowsBefore = listenOverflows();
/** CPU seconds the orchestrators and Redis have used so far. */
const cpuNow = async () => ({
  orchestrators: farms.reduce((n, f) => n + processCpuSeconds(f.proc.pid as number), 0),
  redis: await redisCpuSeconds(admin),
});
const cpuBefore = await cpuNow();
const measuredAt = Date.now();
Object.assign(window, { since: measuredAt, until: Number.POSITIVE_INFINITY });
// The job's progress, read every 10 s as well: that keeps the bench's own connection open. A new
// one to an orchestrator past its capacity waits out SYN retransmissions for its turn, as the
// swarm's do (a 10,000-worker run lost its final read that way).
let verified = before.tilesVerified;
for (let tick = 1; Date.now() - measuredAt < DURATION_S * 1000; tick++) {
  if (tick % 5 === 0) verified = (await patiently(() => client.status(id))).tilesVerified;
  process.stderr.write(
    `  measuring: ${window.replicas.toLocaleString('en')} replicas assigned, ${verified} tiles verified, ${Math.round((Date.now() - measuredAt) / 1000)} s\r`,
  );
  await sleep(2000);
}
Object.assign(window, { until: Date.now() });
const seconds = (Date.now() - measuredAt) / 1000;
const cpuAfter = await cpuNow();
const status = await patiently(() => client.status(id));
const overflows = listenOverflows() - overflowsBefore;
const errors = total('errors') + farms.reduce((n, f) => n + f.errors(), 0) + benchErrors - errorsBefore;
process.stderr.write('  waiting for the polls begun in the window to end\r');
await sleep(LATE_POLLS_MS);

await Promise.all(children.map((c) => stopProcess(c)));
await Promise.all(farms.map((f) => stopProcess(f.proc)));
admin.disconnect();
await redis.stop();

const pollMs = window.polls.map((poll) => poll.ms);
const pct = (p: number) => percentile(pollMs, p);
/**
 * Polls by when they began, in steps of BUCKET_S from the window's start: a job's first wave (every
 * waiting worker takes a replica at once) shows apart from the farm's steady state.
 */
const BUCKET_S = 15;
const byStart = Array.from({ length: Math.ceil(seconds / BUCKET_S) }, (_, i) => {
  const ms = window.polls.filter((poll) => Math.floor((poll.at - window.since) / 1000 / BUCKET_S) === i).map((poll) => poll.ms);
  return { fromS: i * BUCKET_S, polls: ms.length, p50: percentile(ms, 0.5), p99: percentile(ms, 0.99) };
});
const perThousand = (from: (typeof memory)[number], to: (typeof memory)[number], key: 'orchestratorsMb' | 'redisMb') =>
  to.workers > from.workers ? ((to[key] - from[key]) / ((to.workers - from.workers) / 1000)).toFixed(1) : '';
const recorded = status.replicasRendered - before.replicasRendered;
/** CPU ms a part spent in the window per replica recorded: what a replica costs it (requests, store, verdicts). */
const cpuPerReplica = (part: 'orchestrators' | 'redis') => (recorded > 0 ? ((cpuAfter[part] - cpuBefore[part]) * 1000) / recorded : 0);
const result = {
  workers: WORKERS,
  started: total('started'),
  stalled,
  processes: PROCESSES,
  orchestrators: ORCHESTRATORS,
  renderMs: RENDER_MS,
  rampSeconds,
  seconds,
  /** Results the farm recorded (from the job's own count), and replicas the workers were handed. */
  replicasPerSecond: recorded / seconds,
  assignedPerSecond: window.replicas / seconds,
  tilesVerifiedPerSecond: (status.tilesVerified - before.tilesVerified) / seconds,
  pollsWithWork: window.polls.length,
  pollToAssignmentMs: { p50: pct(0.5), p99: pct(0.99), byStart },
  cpuMsPerReplica: { orchestrators: cpuPerReplica('orchestrators'), redis: cpuPerReplica('redis') },
  /** The agents' requests in the window per replica assigned in it, by kind. */
  requestsPerReplica: Object.fromEntries(
    Object.entries(window.requests).map(([kind, n]) => [kind, window.replicas ? Number((n / window.replicas).toFixed(2)) : 0]),
  ),
  errors,
  listenOverflows: overflows,
  memory,
  // Met only if work was done: a farm that assigns fast but records nothing is not working.
  goal: { p99Ms: GOAL_P99_MS, met: errors === 0 && pct(0.99) < GOAL_P99_MS && recorded > 0 },
};
console.log(
  `\nswarm: ${total('started').toLocaleString('en')} of ${WORKERS.toLocaleString('en')} workers running${stalled ? ' (it stopped growing)' : ''} in ${PROCESSES} processes against ${ORCHESTRATORS} orchestrators, ${seconds.toFixed(0)} s with work queued, each tile ${RENDER_MS ? `about ${RENDER_MS} ms` : 'no time'} to render\n`,
);
console.log(
  table([
    { measure: 'replicas rendered/s (recorded by the farm)', value: result.replicasPerSecond.toFixed(1) },
    { measure: 'replicas assigned/s', value: result.assignedPerSecond.toFixed(1) },
    { measure: 'tiles verified/s', value: result.tilesVerifiedPerSecond.toFixed(1) },
    { measure: 'requests that brought work (polls, uploads that asked)', value: String(window.polls.length) },
    { measure: 'poll to assignment p50 (ms)', value: String(result.pollToAssignmentMs.p50) },
    { measure: `poll to assignment p99 (ms), goal < ${GOAL_P99_MS}`, value: String(result.pollToAssignmentMs.p99) },
    { measure: 'orchestrators’ CPU per replica recorded (ms, all together)', value: result.cpuMsPerReplica.orchestrators.toFixed(2) },
    { measure: 'Redis CPU per replica recorded (ms)', value: result.cpuMsPerReplica.redis.toFixed(2) },
    {
      measure: 'requests per replica assigned, by kind',
      value: Object.entries(result.requestsPerReplica)
        .map(([kind, n]) => `${kind} ${n}`)
        .join(', '),
    },
    { measure: 'errors (warnings and errors logged)', value: String(errors) },
    { measure: 'connections dropped for a full accept queue', value: String(overflows) },
  ]),
);
console.log(`\npoll to assignment by when the poll began (${BUCKET_S}-s steps from the window's start)\n`);
console.log(
  table(
    byStart.map((b) => ({
      'began at (s)': `${b.fromS}–${Math.min(b.fromS + BUCKET_S, Math.round(seconds))}`,
      polls: String(b.polls),
      'p50 (ms)': b.polls ? String(b.p50) : '—',
      'p99 (ms)': b.polls ? String(b.p99) : '—',
    })),
  ),
);
console.log('\nmemory as the swarm grew (MB; per 1,000 workers between quarters)\n');
console.log(
  table(
    memory.map((m, i) => ({
      workers: m.workers.toLocaleString('en'),
      'orchestrators RSS': m.orchestratorsMb.toFixed(0),
      'Redis used': m.redisMb.toFixed(1),
      'orchestrators / 1k': i ? perThousand(memory[i - 1], m, 'orchestratorsMb') : '',
      'Redis / 1k': i ? perThousand(memory[i - 1], m, 'redisMb') : '',
    })),
  ),
);
console.log(`goal (results recorded, no errors, p99 < ${GOAL_P99_MS} ms): ${result.goal.met ? 'met' : 'not met'}`);
// A run with a render time is another measurement (below capacity), kept beside the one without.
// One file per kind and size of swarm, so that a run of one size leaves the others' figures.
console.log(`results: ${writeResult(`${RENDER_MS ? 'swarm-rendering' : 'swarm'}-${WORKERS}`, result)}`);
process.exit(0);
