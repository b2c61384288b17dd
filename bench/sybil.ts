/**
 * `npm run bench:sybil`: what a sybil attacker gets out of the farm, against the number of keys it
 * runs (1 to 50), its share of the staked capacity (5 % to 50 %), with and without one of the
 * operator's trusted workers online. Each point is a real orchestrator on a private Redis with
 * protocol clients: 1 trusted worker, 8 honest untrusted workers (1,000 credits staked each, 30 ms
 * per render) and the attacker's keys, which share its stake evenly and answer at once.
 *
 * The attacker is patient and coordinated: each key renders honestly for its first 3 replicas
 * (spot checks look like work, so it must, to earn credibility), then every key returns the same
 * wrong tile for half of the tiles (the same half for all keys) and the right one for the rest.
 * After a warm-up job rendered while the trusted worker is online, three jobs of 32 tiles run; if
 * the point is "trusted offline" the trusted worker stops first. Counted when every job is done,
 * every spot check is judged and backtracking has settled: wrong tiles in finished jobs, the
 * attacker's stake lost (slashes and penalties), and the rewards it earned on the wrong tiles.
 * Writes bench/results/sybil.json, a chart (bench/results/sybil.png) and a table.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { startRedisServer } from '../cli/redis-server.ts';
import { RequesterClient } from '../cli/requester.ts';
import { OrchestratorConfig } from '../orchestrator/config.ts';
import { startOrchestrator } from '../orchestrator/server.ts';
import { keys as stateKeys } from '../orchestrator/state/keys.ts';
import { connectRedis } from '../orchestrator/state/redis.ts';
import { canonicalCid } from '../shared/image.ts';
import type { JobStatus, TaskView } from '../shared/protocol.ts';
import { parseScene } from '../shared/scene.ts';
import { loadPrivateKey, newKeyPair, workerIdOf } from '../shared/signing.ts';
import type { Rect } from '../shared/tile.ts';
import { WorkerClient } from '../worker/client.ts';
import { table, writeResult } from './support.ts';

const KEYS = (process.env.KEYS ?? '1,5,20,50').split(',').map(Number);
const SHARES = (process.env.SHARES ?? '0.05,0.2,0.5').split(',').map(Number);
const HONEST = 8;
const HONEST_STAKE = 1000;
const RENDER_MS = 30;
/** Replicas each attacker key renders honestly before it starts lying (enough to pass its first checks). */
const PATIENCE = Number(process.env.PATIENCE ?? 3);
const JOBS = 3;
const TOKEN = 'bench-sybil-operator';
const SHADE = 128;
/** 64×128 in 16-px tiles: 32 tiles per job. */
const JOB = { width: 64, height: 128, spp: 1, tileSize: 16, timeoutSeconds: 120 };

interface Point {
  keys: number;
  stakeShare: number;
  trustedOnline: boolean;
  tiles: number;
  wrongAccepted: number;
  /** Credits the attacker lost (slashed, penalised), per wrong tile in a finished job; null when none. */
  stakeLostPerWrong: number | null;
  /** Credits it earned for its replicas of those tiles, per wrong tile. */
  rewardPerWrong: number | null;
  attackerStakeLost: number;
  attackerKeysCaught: number;
}

/** What a tile "renders" to: the scenes differ only in spp, which every worker reads from the scene. */
interface Tile {
  spp: number;
  frame: number;
  tile: Rect;
}
const digest = (t: Tile) => createHash('sha256').update(`${t.spp}.${t.frame}.${t.tile.x}.${t.tile.y}`).digest();
const honestPixels = (t: Tile) => new Uint8Array(t.tile.width * t.tile.height * 4).fill(digest(t)[0]);
/** The attacker's coordinated choice: lie on the tiles whose digest says so, the same for every key. */
const lieOn = (t: Tile) => digest(t)[1] < 128;

class Client {
  readonly id: string;
  readonly client: WorkerClient;
  answered = 0;
  private running = false;
  private loop?: Promise<void>;
  private readonly abort = new AbortController();

  private readonly spp = new Map<string, number>();

  constructor(
    url: string,
    private readonly answer: (t: Tile, c: Client) => Promise<Uint8Array>,
  ) {
    const { privateKeyPem, publicKeyDer } = newKeyPair();
    this.id = workerIdOf(publicKeyDer);
    this.client = new WorkerClient(url, { id: this.id, key: loadPrivateKey(privateKeyPem).key, publicKeyDer });
  }

  async join(name: string, trusted: boolean): Promise<void> {
    const registered = await this.client.register(name, 'bench', trusted ? TOKEN : undefined);
    const spec = registered.calibration;
    if (!spec) return;
    const tiles = spec.tiles.map((t) => ({ ...t, rgba: new Uint8Array(t.width * t.height * 4).fill(SHADE), rays: 0 }));
    await this.client.calibrate(await Promise.all(tiles.map(canonicalCid)), tiles);
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          const a = await this.client.next(this.abort.signal);
          if (!a) continue;
          if (!this.spp.has(a.scene)) this.spp.set(a.scene, parseScene(await this.client.scene(a.scene)).render.spp);
          const rgba = await this.answer({ spp: this.spp.get(a.scene) as number, frame: a.frame, tile: a.tile }, this);
          this.answered++;
          const result = { width: a.tile.width, height: a.tile.height, rgba, rays: 0 };
          await this.client.upload(a.replica, await canonicalCid(result), result);
        } catch {
          if (this.running) await new Promise((r) => setTimeout(r, 250));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
  }
}

/**
 * Until no spot check is out or awaits its verdict: a check is judged when a real replica's
 * verdict would come, seconds after its upload, and what a key it catches vouched for is
 * backtracked only then (a job can be done meanwhile).
 */
async function checksJudged(redisUrl: string): Promise<void> {
  const redis = connectRedis(redisUrl);
  try {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && (await redis.zcard(stateKeys.spotDue)) + (await redis.zcard(stateKeys.spotLeases)) > 0)
      await new Promise((r) => setTimeout(r, 250));
  } finally {
    redis.disconnect();
  }
}

async function point(keys: number, stakeShare: number, trustedOnline: boolean): Promise<Point> {
  const dir = mkdtempSync(join(tmpdir(), 'farm-sybil-'));
  const redis = await startRedisServer({ dir: join(dir, 'redis') });
  const farm = await startOrchestrator(
    OrchestratorConfig.parse({
      port: 0,
      redisUrl: redis.url,
      dataDir: join(dir, 'data'),
      token: TOKEN,
      logLevel: 'silent',
      leaseMs: 2000,
      pollMs: 300,
      graceMs: 1500,
      registrationsPerMinute: 10_000,
      workerRequestsPerSecond: 10_000,
      workerRequestsPerAddressPerSecond: 100_000,
      workerBodiesPerAddress: 10_000,
      submissionsPerMinute: 10_000,
    }),
  );
  const operator = new RequesterClient(farm.url, TOKEN);
  const grant = async (account: string, credits: number) =>
    void (await operator.call('POST', '/api/credits', { account, amount: credits }));
  await grant('treasury', 1_000_000);
  const honestly = async (t: Tile) => {
    await new Promise((r) => setTimeout(r, RENDER_MS));
    return honestPixels(t);
  };
  const trusted = new Client(farm.url, honestly);
  await trusted.join('trusted', true);
  const honest = Array.from({ length: HONEST }, () => new Client(farm.url, honestly));
  for (const [i, h] of honest.entries()) {
    await h.join(`honest-${i}`, false);
    await grant(h.id, HONEST_STAKE);
    await h.client.stake(HONEST_STAKE);
  }
  for (const c of [trusted, ...honest]) c.start();
  const scene: unknown = JSON.parse(readFileSync(new URL('../scenes/cornell.json', import.meta.url), 'utf8'));
  const waitDone = async (ids: string[]) => {
    const deadline = Date.now() + 240_000;
    for (;;) {
      const states = await Promise.all(ids.map((id) => operator.status(id)));
      if (states.every((s) => s.state === 'done')) return states;
      if (Date.now() > deadline) return states;
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  // Warm-up with the trusted worker online: known answers, and the honest workers' first checks.
  await waitDone([(await operator.submit({ scene, ...JOB, name: 'warm-up' })).id]);

  // The attacker joins with its stake spread over its keys.
  const attackerStake = Math.floor(((stakeShare / (1 - stakeShare)) * HONEST * HONEST_STAKE) / keys);
  const attackers = Array.from(
    { length: keys },
    () =>
      new Client(farm.url, async (t, c) =>
        c.answered >= PATIENCE && lieOn(t) ? new Uint8Array(t.tile.width * t.tile.height * 4) : honestPixels(t),
      ),
  );
  for (const [i, k] of attackers.entries()) {
    await k.join(`sybil-${i}`, false);
    if (attackerStake > 0) {
      await grant(k.id, attackerStake);
      await k.client.stake(attackerStake);
    }
    k.start();
  }
  if (!trustedOnline) {
    await trusted.stop();
    await new Promise((r) => setTimeout(r, 2 * 2000 + 500)); // out of the online window
  }
  const ids: string[] = [];
  for (let j = 0; j < JOBS; j++) ids.push((await operator.submit({ scene, ...JOB, spp: 2 + j })).id);
  await waitDone(ids);
  await checksJudged(redis.url);
  await new Promise((r) => setTimeout(r, 3000)); // backtracking cascades
  const statuses: JobStatus[] = await waitDone(ids);

  let tiles = 0;
  let wrong = 0;
  let rewardOnWrong = 0;
  const attackerIds = new Set(attackers.map((a) => a.id));
  for (const status of statuses) {
    if (status.state !== 'done') continue;
    const views = ((await (await operator.call('GET', `/api/jobs/${status.id}/tasks?frame=0`)).json()) as { tasks: TaskView[] }).tasks;
    for (const t of views) {
      tiles++;
      const truth = await canonicalCid({
        width: t.rect.width,
        height: t.rect.height,
        rgba: honestPixels({ spp: status.spp, frame: t.frame, tile: t.rect }),
        rays: 0,
      });
      if (t.cid !== truth) {
        wrong++;
        rewardOnWrong += t.replicas.filter((r) => attackerIds.has(r.worker) && r.state === 'valid').reduce((s, r) => s + (r.paid ?? 0), 0);
      }
    }
  }
  let lost = 0;
  let caught = 0;
  for (const a of attackers) {
    const ledger = (await (await fetch(`${farm.url}/api/workers/${a.id}/ledger?limit=1000`)).json()) as {
      entries: { kind: string; amount: number }[];
    };
    const taken = ledger.entries.filter((e) => e.kind === 'slashed' || e.kind === 'penalty').reduce((s, e) => s - e.amount, 0);
    lost += taken;
    if (ledger.entries.some((e) => e.kind === 'slashed')) caught++;
  }
  await Promise.all([trusted, ...honest, ...attackers].map((c) => c.stop()));
  await farm.close();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
  return {
    keys,
    stakeShare,
    trustedOnline,
    tiles,
    wrongAccepted: wrong,
    stakeLostPerWrong: wrong ? round(lost / wrong) : null,
    rewardPerWrong: wrong ? round(rewardOnWrong / wrong) : null,
    attackerStakeLost: round(lost),
    attackerKeysCaught: caught,
  };
}
const round = (x: number) => Math.round(x * 100) / 100;

const points: Point[] = [];
for (const trustedOnline of (process.env.TRUSTED ?? 'online,offline').split(',').map((t) => t === 'online')) {
  for (const share of SHARES) {
    for (const keys of KEYS) {
      const p = await point(keys, share, trustedOnline);
      points.push(p);
      console.log(JSON.stringify(p));
    }
  }
}

console.log(
  `\n${HONEST} honest untrusted workers (${HONEST_STAKE} credits staked each) + 1 trusted; attacker patient for ${PATIENCE} replicas per key, then lies on half the tiles; ${JOBS} jobs × 32 tiles per point\n`,
);
console.log(
  table(
    points.map((p) => ({
      keys: p.keys,
      'stake share': `${p.stakeShare * 100} %`,
      trusted: p.trustedOnline ? 'online' : 'offline',
      tiles: p.tiles,
      'wrong accepted': p.wrongAccepted,
      'stake lost / wrong tile': p.stakeLostPerWrong ?? '—',
      'reward / wrong tile': p.rewardPerWrong ?? '—',
      'stake lost': p.attackerStakeLost,
      'keys caught': `${p.attackerKeysCaught}/${p.keys}`,
    })),
  ),
);
const file = writeResult('sybil', points);
const png = new URL('./results/sybil.png', import.meta.url).pathname;
await sharp(Buffer.from(chart(points)))
  .png()
  .toFile(png);
console.log(`results: ${file}\nchart: ${png}`);

/** Two panels against the number of keys: wrong tiles accepted, and the attacker's stake lost. */
function chart(data: Point[]): string {
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
  const x = (keys: number, left: number) => left + 40 + (Math.log10(keys) / Math.log10(50)) * 330;
  const maxWrong = Math.max(1, ...data.map((p) => p.wrongAccepted));
  const yWrong = (v: number) => 330 - (v / maxWrong) * 280;
  const yLoss = (v: number) => 330 - (Math.log10(Math.max(v, 1)) / 4) * 280;
  let svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="420" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>';
  const frame = (left: number, title: string) => {
    svg += `<text x="${left + 205}" y="30" font-size="15" text-anchor="middle">${title}</text><rect x="${left + 40}" y="50" width="330" height="280" fill="none" stroke="#888"/>`;
    for (const k of KEYS) svg += `<text x="${x(k, left)}" y="346" font-size="11" text-anchor="middle">${k}</text>`;
    svg += `<text x="${left + 205}" y="366" font-size="12" text-anchor="middle">sybil keys</text>`;
  };
  frame(0, 'wrong tiles in finished jobs');
  for (const v of [0, maxWrong]) svg += `<text x="34" y="${yWrong(v) + 4}" font-size="11" text-anchor="end">${v}</text>`;
  if (data.every((p) => p.wrongAccepted === 0)) svg += '<text x="205" y="190" font-size="13" text-anchor="middle">none at any point</text>';
  frame(460, 'attacker’s stake lost (credits)');
  for (const v of [1, 10, 100, 1000, 10000]) svg += `<text x="494" y="${yLoss(v) + 4}" font-size="11" text-anchor="end">${v}</text>`;
  SHARES.forEach((share, i) => {
    for (const online of [true, false]) {
      const points = data.filter((p) => p.stakeShare === share && p.trustedOnline === online);
      const dash = online ? ' stroke-dasharray="6 4"' : '';
      svg += `<polyline points="${points.map((p) => `${x(p.keys, 0)},${yWrong(p.wrongAccepted)}`).join(' ')}" fill="none" stroke="${colors[i]}" stroke-width="2.5"${dash}/>`;
      svg += `<polyline points="${points.map((p) => `${x(p.keys, 460)},${yLoss(p.attackerStakeLost)}`).join(' ')}" fill="none" stroke="${colors[i]}" stroke-width="2.5"${dash}/>`;
    }
    svg += `<rect x="${60 + i * 200}" y="390" width="14" height="14" fill="${colors[i]}"/><text x="${80 + i * 200}" y="402" font-size="13">${share * 100} % of staked capacity</text>`;
  });
  svg += '<text x="700" y="402" font-size="12">dashed: trusted worker online</text>';
  return `${svg}</svg>`;
}
