/**
 * `npm run bench:sabotage`: the headline figure. P = 100 workers, f = 0.2 of them saboteurs that
 * collude (all return the same wrong hash) with sabotage rate s, 10,000 tiles per run, 10 seeded
 * runs per point. Tasks are hashes; the farm's own verdict functions decide: `judge`
 * (orchestrator/verifier.ts) for fixed 2-replica agreement and majority of 3, and `accept`
 * (orchestrator/acceptance.ts) with Sarmenta credibility, blacklisting and backtracking, with and
 * without spot checks. Prints error rate (wrong tiles accepted / tiles) and redundancy (results
 * computed per tile, spot checks included); writes bench/results/sabotage.json and a PNG chart.
 */
import sharp from 'sharp';
import { accept } from '../orchestrator/acceptance.ts';
import { threshold, workerCredibility } from '../orchestrator/credibility.ts';
import { judge } from '../orchestrator/verifier.ts';
import { table, writeResult } from './support.ts';

const P = 100;
const F = 0.2;
const TILES = Number(process.env.TILES ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 10);
const EPSILON = 1e-4;
const Q = 0.05;
const MAX_REPLICAS = 24;
const RATES = [1, 0.3, 0.1, 0.03, 0.01];
const SCHEMES = ['fixed-2', 'majority-3', 'credibility', 'credibility-spot'] as const;
type Scheme = (typeof SCHEMES)[number];

interface SimWorker {
  saboteur: boolean;
  /** Spot checks and replicated agreements passed since the last fault. */
  k: number;
  blacklisted: boolean;
  /** Tasks accepted with this worker in the winning group. */
  vouched: Set<number>;
}

interface SimTask {
  results: { replica: string; worker: number; cid: string }[];
  accepted: string | null;
}

/** mulberry32: a small seeded generator, so every run is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function simulate(scheme: Scheme, s: number, seed: number): { errors: number; computed: number } {
  const random = rng(seed);
  const workers: SimWorker[] = Array.from({ length: P }, (_, i) => ({ saboteur: i < P * F, k: 0, blacklisted: false, vouched: new Set() }));
  const tasks: SimTask[] = Array.from({ length: TILES }, () => ({ results: [], accepted: null }));
  const theta = threshold(EPSILON);
  let computed = 0;

  const answer = (w: number) => {
    computed++;
    return workers[w].saboteur && random() < s ? 'BAD' : 'GOOD';
  };
  const pick = (exclude: Set<number>): number | undefined => {
    const eligible = workers.map((_, i) => i).filter((i) => !workers[i].blacklisted && !exclude.has(i));
    return eligible.length ? eligible[Math.floor(random() * eligible.length)] : undefined;
  };

  /** A caught worker: reset, blacklisted, and every tile accepted on its word re-verified. */
  const caught = (w: number) => {
    const worker = workers[w];
    if (worker.blacklisted) return;
    worker.k = 0;
    worker.blacklisted = true;
    for (const t of worker.vouched) {
      tasks[t].accepted = null;
      tasks[t].results = tasks[t].results.filter((r) => r.worker !== w);
      verifyCredibly(t);
    }
    worker.vouched.clear();
  };

  const spotCheck = (w: number) => {
    if (answer(w) === 'BAD') caught(w);
    else workers[w].k++;
  };

  function verifyCredibly(t: number): void {
    const task = tasks[t];
    let mustReplicate = false;
    for (;;) {
      const live = task.results.filter((r) => !workers[r.worker].blacklisted);
      const verdict = accept({
        results: live.map((r) => ({ ...r, worker: String(r.worker), credibility: workerCredibility(F, workers[r.worker].k) })),
        outstanding: 0,
        f: F,
        theta,
        maxReplicas: MAX_REPLICAS,
      });
      if (verdict.kind === 'verified' && !(mustReplicate && live.length < 2)) {
        // BOINC's audit: a result accepted alone is still replicated with probability 1/CV.
        const alone = verdict.agree.length === 1;
        const cv = Math.max(1, workers[Number(live[0].worker)].k);
        if (alone && !mustReplicate && random() < 1 / cv) {
          mustReplicate = true;
        } else {
          task.accepted = verdict.cid;
          const winners = live.filter((r) => r.cid === verdict.cid).map((r) => r.worker);
          for (const w of winners) {
            if (live.length > 1) workers[w].k++;
            workers[w].vouched.add(t);
          }
          for (const r of live) if (r.cid !== verdict.cid) caught(r.worker);
          return;
        }
      }
      if (verdict.kind === 'exhausted') return;
      // One replica at a time: the next result may come from a credible worker.
      const w = pick(new Set(task.results.map((r) => r.worker)));
      if (w === undefined) return;
      if (scheme === 'credibility-spot' && random() < Q) spotCheck(w);
      if (workers[w].blacklisted) continue;
      task.results.push({ replica: `r${task.results.length}`, worker: w, cid: answer(w) });
    }
  }

  function verifyByVote(t: number, replicas: number): void {
    const task = tasks[t];
    for (;;) {
      const verdict = judge({
        results: task.results.map((r) => ({ ...r, worker: String(r.worker) })),
        outstanding: 0,
        replicas,
        maxReplicas: MAX_REPLICAS,
      });
      if (verdict.kind === 'verified') {
        task.accepted = verdict.cid;
        return;
      }
      if (verdict.kind === 'exhausted') return;
      const issue = Math.max(verdict.issue, replicas - task.results.length);
      for (let i = 0; i < issue; i++) {
        const w = pick(new Set(task.results.map((r) => r.worker)));
        if (w === undefined) return;
        task.results.push({ replica: `r${task.results.length}`, worker: w, cid: answer(w) });
      }
    }
  }

  for (let t = 0; t < TILES; t++) {
    if (scheme === 'fixed-2') verifyByVote(t, 2);
    else if (scheme === 'majority-3') verifyByVote(t, 3);
    else verifyCredibly(t);
  }
  return { errors: tasks.filter((t) => t.accepted === 'BAD').length, computed };
}

const rows: { scheme: Scheme; sabotageRate: number; errorRate: number; redundancy: number }[] = [];
for (const scheme of SCHEMES) {
  for (const s of RATES) {
    let errors = 0;
    let computed = 0;
    for (let run = 0; run < RUNS; run++) {
      const r = simulate(scheme, s, 1000 * run + Math.round(s * 1000) + SCHEMES.indexOf(scheme));
      errors += r.errors;
      computed += r.computed;
    }
    rows.push({ scheme, sabotageRate: s, errorRate: errors / (TILES * RUNS), redundancy: computed / (TILES * RUNS) });
  }
}

console.log(`\nP = ${P} workers, f = ${F} colluding saboteurs, ${TILES} tiles × ${RUNS} runs per point, ε = ${EPSILON}, q = ${Q}\n`);
console.log(
  table(
    rows.map((r) => ({
      scheme: r.scheme,
      s: r.sabotageRate,
      'error rate': r.errorRate.toExponential(1),
      redundancy: r.redundancy.toFixed(2),
    })),
  ),
);
const file = writeResult('sabotage', rows);
const png = new URL('./results/sabotage.png', import.meta.url).pathname;
await sharp(Buffer.from(chart(rows)))
  .png()
  .toFile(png);
console.log(`results: ${file}\nchart: ${png}`);

/** Two panels, log-log error rate and redundancy against sabotage rate, as an SVG. */
function chart(data: typeof rows): string {
  const W = 900;
  const H = 380;
  const colors: Record<Scheme, string> = {
    'fixed-2': '#d62728',
    'majority-3': '#ff7f0e',
    credibility: '#1f77b4',
    'credibility-spot': '#2ca02c',
  };
  const x = (s: number, left: number) => left + 40 + ((Math.log10(s) + 2) / 2) * 330;
  const yErr = (e: number) => 50 + ((-Math.log10(Math.max(e, 1e-6)) - 0) / 6) * 280;
  const yRed = (r: number) => 330 - (r / 4) * 280;
  const panel = (
    left: number,
    title: string,
    y: (v: number) => number,
    value: (r: (typeof data)[number]) => number,
    ticks: [number, string][],
  ) => {
    let out = `<text x="${left + 200}" y="30" font-size="16" text-anchor="middle">${title}</text>`;
    out += `<rect x="${left + 40}" y="50" width="330" height="280" fill="none" stroke="#888"/>`;
    for (const [v, label] of ticks)
      out += `<text x="${left + 34}" y="${y(v) + 4}" font-size="11" text-anchor="end">${label}</text><line x1="${left + 40}" x2="${left + 370}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`;
    for (const s of RATES) out += `<text x="${x(s, left)}" y="346" font-size="11" text-anchor="middle">${s}</text>`;
    out += `<text x="${left + 205}" y="366" font-size="12" text-anchor="middle">sabotage rate s</text>`;
    for (const scheme of SCHEMES) {
      const pts = data.filter((r) => r.scheme === scheme).map((r) => `${x(r.sabotageRate, left)},${y(value(r))}`);
      out += `<polyline points="${pts.join(' ')}" fill="none" stroke="${colors[scheme]}" stroke-width="2.5"/>`;
      for (const p of pts) out += `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3.5" fill="${colors[scheme]}"/>`;
    }
    return out;
  };
  const errTicks: [number, string][] = [1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6].map((v) => [v, v === 1e-6 ? '≤1e-6' : v.toExponential(0)]);
  const redTicks: [number, string][] = [0, 1, 2, 3, 4].map((v) => [v, String(v)]);
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H + 40}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>`;
  svg += panel(0, 'error rate (wrong tiles accepted / tiles)', yErr, (r) => r.errorRate, errTicks);
  svg += `<line x1="40" x2="370" y1="${yErr(1e-4)}" y2="${yErr(1e-4)}" stroke="#000" stroke-dasharray="4 3"/><text x="366" y="${yErr(1e-4) - 4}" font-size="10" text-anchor="end">ε = 1e-4</text>`;
  svg += panel(460, 'redundancy (results per tile)', yRed, (r) => r.redundancy, redTicks);
  SCHEMES.forEach((scheme, i) => {
    svg += `<rect x="${60 + i * 210}" y="${H + 12}" width="14" height="14" fill="${colors[scheme]}"/><text x="${80 + i * 210}" y="${H + 24}" font-size="13">${scheme}</text>`;
  });
  return `${svg}</svg>`;
}
