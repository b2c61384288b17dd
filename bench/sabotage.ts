/**
 * `npm run bench:sabotage`: the headline figure. P = 100 untrusted workers, f = 0.2 of them
 * saboteurs that collude (all return the same wrong hash) with sabotage rate s, plus T = 2 of the
 * operator's trusted workers (the farm's ground truth: a farm has no class without them), 10,000
 * tiles per run after a warm-up of 2,000 uncounted tiles (newcomers earn credibility first),
 * 10 seeded runs per point. Tiles are hashes; the farm's own `decide` (orchestrator/verdict/)
 * judges every tile under the farm's rules — unchecked workers weigh nothing, only checks against
 * ground truth raise credibility, disputes and audits go to a trusted worker, a caught worker is
 * blacklisted and what it vouched for re-verified — for fixed 2-replica agreement, a majority of
 * 3, and credibility with and without spot checks. Prints error rate (wrong tiles accepted /
 * tiles) and redundancy (results computed per tile, spot checks included); writes
 * bench/results/sabotage.json and a PNG chart.
 */
import sharp from 'sharp';
import { spotCheckChance } from '../orchestrator/dispatch.ts';
import { TRUSTED_CREDIBILITY, threshold, workerCredibility } from '../orchestrator/verdict/credibility.ts';
import { decide, type Policy } from '../orchestrator/verdict/decide.ts';
import { seededRandom, table, writeResult } from './support.ts';

const P = 100;
const T = Number(process.env.TRUSTED ?? 2);
const F = 0.2;
const TILES = Number(process.env.TILES ?? 10_000);
const WARMUP = Number(process.env.WARMUP ?? 2000);
const RUNS = Number(process.env.RUNS ?? 10);
const EPSILON = 1e-4;
const Q = 0.05;
const RATES = [1, 0.3, 0.1, 0.03, 0.01];
const SCHEMES = ['fixed-2', 'majority-3', 'credibility', 'credibility-spot'] as const;
type Scheme = (typeof SCHEMES)[number];

interface SimWorker {
  saboteur: boolean;
  trusted: boolean;
  /** Checks against ground truth passed since the last fault. */
  k: number;
  /** Caught: its stake is gone, it takes no more work. */
  out: boolean;
  /** Tiles whose unanchored verdict rested on this worker. */
  vouched: Set<number>;
}

interface SimTask {
  results: { slot: number; worker: number; cid: string }[];
  accepted: string | null;
  anchored: boolean;
  suspect: boolean;
  arbiterIssued: boolean;
  audited: boolean;
  auditRoll: number;
}

function policyOf(scheme: Scheme): Policy {
  const quorum = scheme === 'fixed-2' || scheme === 'majority-3';
  return {
    verification: quorum ? 'quorum' : 'credibility',
    theta: threshold(EPSILON),
    f: F,
    replicas: scheme === 'majority-3' ? 3 : 2,
    maxReplicas: quorum ? (scheme === 'majority-3' ? 7 : 6) : 16,
    onTimeout: 'accept',
    renderAttempts: 3,
  };
}

function simulate(scheme: Scheme, s: number, seed: number): { errors: number; computed: number } {
  const random = seededRandom(seed);
  const workers: SimWorker[] = Array.from({ length: P + T }, (_, i) => ({
    saboteur: i < P * F,
    trusted: i >= P,
    k: 0,
    out: false,
    vouched: new Set(),
  }));
  const tasks: SimTask[] = Array.from({ length: WARMUP + TILES }, () => ({
    results: [],
    accepted: null,
    anchored: false,
    suspect: false,
    arbiterIssued: false,
    audited: false,
    auditRoll: random(),
  }));
  const policy = policyOf(scheme);
  let counting = false;
  let computed = 0;

  const answer = (w: number) => {
    if (counting) computed++;
    return workers[w].saboteur && random() < s ? 'BAD' : 'GOOD';
  };
  const pick = (exclude: Set<number>, trustedOnly: boolean): number | undefined => {
    const eligible = workers.map((_, i) => i).filter((i) => !workers[i].out && !exclude.has(i) && (!trustedOnly || workers[i].trusted));
    return eligible.length ? eligible[Math.floor(random() * eligible.length)] : undefined;
  };

  /** Caught against ground truth: out, and every tile that rested on its word judged again. */
  const caught = (w: number) => {
    const worker = workers[w];
    if (worker.out) return;
    worker.k = 0;
    worker.out = true;
    for (const t of worker.vouched) {
      Object.assign(tasks[t], { accepted: null, suspect: true, results: tasks[t].results.filter((r) => r.worker !== w) });
      verify(t);
    }
    worker.vouched.clear();
  };

  /** A spot check: a tile whose answer the trusted workers gave; the worker cannot tell it apart. */
  const spotCheck = (w: number) => {
    if (answer(w) === 'BAD') caught(w);
    else workers[w].k++;
  };

  function verify(t: number): void {
    const task = tasks[t];
    for (;;) {
      const live = task.results.filter((r) => !workers[r.worker].out);
      const d = decide({
        policy,
        state: 'pending',
        verdict: null,
        attempts: 0,
        trustedError: null,
        reopenable: true,
        classed: true,
        issued: task.results.length,
        outstanding: 0,
        held: 0,
        results: live.map((r) => {
          const w = workers[r.worker];
          const credibility = w.trusted ? TRUSTED_CREDIBILITY : workerCredibility(F, w.k);
          return {
            slot: r.slot,
            worker: String(r.worker),
            cid: r.cid,
            settled: false,
            credibility,
            trusted: w.trusted,
            passed: w.k,
            faults: 0,
          };
        }),
        suspect: task.suspect,
        arbiterIssued: task.arbiterIssued,
        // The model's trusted workers take an arbiter slot as it is issued.
        arbiterUnheld: false,
        audited: task.audited,
        auditRoll: task.auditRoll,
        // The model's spot checks draw from a stocked pool.
        knownAnswersShort: false,
        recheck: task.suspect,
        now: 0,
        progressAt: 0,
        graceMs: Number.POSITIVE_INFINITY,
        deadlineAt: Number.POSITIVE_INFINITY,
        availability: { trusted: T, eligible: P },
      });
      if (d.kind === 'accept') {
        task.accepted = d.cid;
        task.anchored = d.anchored;
        const slotWorker = (slot: number) => live.find((r) => r.slot === slot)?.worker as number;
        for (const slot of d.checked) workers[slotWorker(slot)].k++;
        if (!d.anchored) for (const slot of d.agree) workers[slotWorker(slot)].vouched.add(t);
        if (d.faulty) for (const slot of d.disagree) caught(slotWorker(slot));
        return;
      }
      if (d.kind !== 'issue') return;
      if (d.arbiter) task.arbiterIssued = true;
      if (d.audit) task.audited = true;
      for (let i = 0; i < d.count; i++) {
        const w = pick(new Set(task.results.map((r) => r.worker)), d.arbiter);
        if (w === undefined) return;
        if (scheme === 'credibility-spot' && !workers[w].trusted) {
          while (!workers[w].out && random() < spotCheckChance(Q, workers[w].k)) spotCheck(w);
          if (workers[w].out) continue;
        }
        task.results.push({ slot: task.results.length, worker: w, cid: answer(w) });
      }
    }
  }

  for (let t = 0; t < WARMUP + TILES; t++) {
    counting = t >= WARMUP;
    verify(t);
  }
  return { errors: tasks.slice(WARMUP).filter((t) => t.accepted === 'BAD').length, computed };
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

console.log(
  `\nP = ${P} untrusted workers (f = ${F} colluding saboteurs) + ${T} trusted, ${TILES} tiles after ${WARMUP} warm-up × ${RUNS} runs per point, ε = ${EPSILON}, q = ${Q}\n`,
);
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
