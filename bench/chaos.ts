/**
 * `npm run chaos`: a soak run under kill -9. A real farm (private Redis with AOF and fsync always,
 * the orchestrator and worker processes: three of the operator's own and two staked untrusted
 * ones, spot checks on) renders quorum and credibility jobs while KILLS (default 60) kill -9s
 * land at random moments, spread over a worker, the orchestrator and Redis, each restarted at
 * once as a supervisor would. Then every job must finish, every frame must equal `farm render`'s
 * decoded pixels, no verified tile may have been handed out again, and the ledger must balance:
 * every account's entries replay to its balance plus stake (plus escrow, for the requester), all
 * accounts together hold exactly the credits granted, and no escrow is left once the jobs end.
 * The jobs pay for their work: every worker asks ASK credits per RU, each job bids MAX_PRICE.
 * Writes bench/results/chaos.json.
 * New jobs are submitted whenever fewer than two are in flight, so every kill lands on work.
 * Settings: KILLS, SEED (default 1), SETTLE_S (default 300).
 */
import { fromMicros, toMicros } from '../shared/money.ts';
import { decodeRgba } from '../shared/png.ts';
import type { JobSummary } from '../shared/protocol.ts';
import { TestFarm, type WorkerKind } from '../test/support/farm.ts';
import { auditLedger } from '../test/support/ledger-audit.ts';
import { renderWithCli } from '../test/support/render-cli.ts';
import { ROOT, shippedRaw } from '../test/support/scenes.ts';
import { seededRandom, writeResult } from './support.ts';

const KILLS = Number(process.env.KILLS ?? 60);
/** Jobs kept queued or running until the last kill. */
const IN_FLIGHT = 2;
const SEED = Number(process.env.SEED ?? 1);
const SETTLE_MS = Number(process.env.SETTLE_S ?? 300) * 1000;
const TREASURY_GRANT = 10_000;
const REQUESTER_GRANT = 10_000;
const UNTRUSTED_STAKE = 1000;
const ASK = 1;
const MAX_PRICE = 2;
const SIZE = { width: 160, height: 120, spp: 64 };
const JOB = { scene: shippedRaw('bounce'), frames: '0-1', ...SIZE, tileSize: 20 };

const rand = seededRandom(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Retries a call the farm may refuse while it restarts. */
async function until<T>(what: string, call: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`);
      await sleep(250);
    }
  }
}

const t0 = Date.now();
const log = (message: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}\n`);

const farm = await TestFarm.start({ leaseMs: 1500, graceMs: 5000, spotCheckRate: 0.05 });
const workers: { name: string; kind: WorkerKind; trusted: boolean }[] = [
  { name: 'a', kind: 'honest', trusted: true },
  { name: 'b', kind: 'honest', trusted: true },
  { name: 'c', kind: 'honest', trusted: true },
  { name: 'u1', kind: 'honest', trusted: false },
  { name: 'u2', kind: 'honest', trusted: false },
];
let granted = TREASURY_GRANT + REQUESTER_GRANT;
const startWorker = async (w: (typeof workers)[number]) => {
  await farm.startWorker(w.name, w.kind, { trusted: w.trusted, stake: UNTRUSTED_STAKE, ask: ASK });
  if (!w.trusted) granted += UNTRUSTED_STAKE;
};

const kills = { worker: 0, orchestrator: 0, redis: 0 };
let killsWithWorkInFlight = 0;
let submitted = 0;
const listJobs = async () =>
  ((await (await until('list jobs', () => farm.client.call('GET', '/api/jobs?limit=500'))).json()) as { jobs: JobSummary[] }).jobs;
const running = async () => (await listJobs()).filter((j) => j.state === 'queued' || j.state === 'running').length;
/** Quorum and credibility jobs in turn. */
const submit = async () => {
  const verification = submitted % 2 === 0 ? 'quorum' : 'credibility';
  await until('submit', () => farm.client.submit({ ...JOB, verification, replicas: 2, maxPrice: MAX_PRICE }));
  submitted++;
};
try {
  await farm.client.call('POST', '/api/credits', { account: 'treasury', amount: TREASURY_GRANT });
  const requester = ((await (await farm.client.call('GET', '/api/account')).json()) as { account: string }).account;
  await farm.client.call('POST', '/api/credits', { account: requester, amount: REQUESTER_GRANT });
  for (const w of workers) await startWorker(w);
  log(`farm up: ${workers.length} workers; ${KILLS} kills (seed ${SEED})`);

  for (let k = 0; k < KILLS; k++) {
    // Work in flight for every kill to land on.
    while ((await running()) < IN_FLIGHT) await submit();
    await sleep(500 + rand() * 3000);
    const kind = pick(['worker', 'worker', 'orchestrator', 'redis'] as const);
    kills[kind]++;
    if ((await running()) > 0) killsWithWorkInFlight++;
    if (kind === 'worker') {
      const w = pick(workers);
      await farm.killWorker(w.name);
      await until(`restart worker ${w.name}`, () => startWorker(w));
    } else if (kind === 'orchestrator') {
      await farm.killOrchestrator();
      await farm.startOrchestrator();
    } else {
      await farm.restartRedis();
    }
    log(`kill ${k + 1}/${KILLS}: ${kind}${kind === 'worker' ? '' : ', restarted'}`);
  }

  log(`kills done; waiting up to ${SETTLE_MS / 1000} s for the jobs to finish`);
  const settleBy = Date.now() + SETTLE_MS;
  let jobs = await listJobs();
  while (Date.now() < settleBy && jobs.some((j) => j.state === 'queued' || j.state === 'running')) {
    await sleep(1000);
    jobs = await listJobs();
  }
  // A list's rows are summaries: each finished job's frames from its own status.
  const finished = await Promise.all(
    jobs.filter((j) => j.state === 'done').map((j) => until('job status', () => farm.client.status(j.id))),
  );

  log('comparing frames with farm render');
  const local = new Map<number, Buffer>();
  let framesCompared = 0;
  let framesMismatched = 0;
  for (const job of finished) {
    for (const { frame } of job.frames) {
      if (!local.has(frame))
        local.set(frame, Buffer.from(await renderWithCli(`${ROOT}scenes/bounce.json`, frame, `${SIZE.width}x${SIZE.height}`, SIZE.spp)));
      const stitched = await decodeRgba(await farm.client.download(`/api/jobs/${job.id}/frames/${frame}`));
      framesCompared++;
      if (!Buffer.from(stitched.rgba).equals(local.get(frame) as Buffer)) framesMismatched++;
    }
  }

  // A verified tile is never handed out again (spot checks aside): a real replica assigned after
  // its verdict would be a tile rendered twice.
  let verifiedTilesRerendered = 0;
  for (const job of finished) {
    for (const { frame } of job.frames) {
      for (const task of await farm.tasks(job.id, frame)) {
        const decided = task.decidedAt ?? Number.POSITIVE_INFINITY;
        if (task.replicas.some((r) => !r.spot && r.assignedAt > decided)) verifiedTilesRerendered++;
      }
    }
  }

  log('checking the ledger');
  const audit = await auditLedger(farm.url, farm.client);
  const ledgerBalanced =
    audit.replayed &&
    audit.held === audit.grants &&
    audit.grants === toMicros(granted) &&
    audit.escrowLeft === 0 &&
    audit.paidTwice.length === 0;
  const paid = jobs.reduce((s, j) => s + j.cost.spent, 0);

  const result = {
    kills,
    killsWithWorkInFlight,
    jobs: jobs.length,
    finished: finished.length,
    failed: jobs.filter((j) => j.state === 'failed').length,
    stuck: jobs.filter((j) => j.state === 'queued' || j.state === 'running').length,
    framesCompared,
    framesMismatched,
    verifiedTilesRerendered,
    ledgerBalanced,
    credits: {
      granted,
      held: fromMicros(audit.held),
      grantsInLedger: fromMicros(audit.grants),
      paidByJobs: paid,
      paidTwice: audit.paidTwice.length,
    },
    seconds: Math.round((Date.now() - t0) / 1000),
    settings: { seed: SEED, workers: workers.length, job: { ...SIZE, tileSize: JOB.tileSize, frames: JOB.frames }, leaseMs: 1500 },
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(`results: ${writeResult('chaos', result)}`);
  process.exitCode = result.stuck || result.framesMismatched || result.failed || !ledgerBalanced ? 1 : 0;
} finally {
  await farm.stop();
}
