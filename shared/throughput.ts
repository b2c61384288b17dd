/**
 * The dashboard's throughput pictures, counted by pure functions: a job's tiles verified over
 * time and each worker's share of its accepted results (GET /api/jobs/:id/throughput, from the
 * job's own tasks), and a worker's accepted results per minute over the last hour (GET
 * /api/workers, from the ring that includes/reputation.lua keeps per worker).
 */
import { z } from 'zod';

/** Bucket widths a job's series may use: the finest that keeps it within MAX_BUCKETS. */
const STEPS_MS = [10_000, 30_000, 60_000, 5 * 60_000, 15 * 60_000, 3_600_000, 6 * 3_600_000, 86_400_000];
export const MAX_BUCKETS = 120;
/** A worker's recent throughput: minutes shown, the last one the current minute. */
export const RECENT_MINUTES = 60;

export const WorkerShare = z.object({
  worker: z.string(),
  /** Its results the job accepted (real replicas that agreed with their tile's verdict). */
  replicas: z.number().int(),
  /** Of all the job's accepted results, to one decimal; the shares sum to exactly 100. */
  percent: z.number(),
});
export type WorkerShare = z.infer<typeof WorkerShare>;

export const JobThroughput = z.object({
  /** Start of the first bucket (ms since the epoch) and the buckets' width. */
  start: z.number(),
  stepMs: z.number().int(),
  /** Tiles verified in each bucket, oldest first, from the job's submission to its end (or now). */
  tiles: z.array(z.number().int()),
  /** Most results first. */
  shares: z.array(WorkerShare),
});
export type JobThroughput = z.infer<typeof JobThroughput>;

/** Accepted results per minute, oldest first, RECENT_MINUTES of them, the last the current minute. */
export const RecentResults = z.array(z.number().int());

/** A verified tile: when its verdict came, and the workers whose results it accepted. */
export interface TileOutcome {
  decidedAt: number;
  workers: readonly string[];
}

/**
 * Decision times counted into buckets aligned to their width, from `from` to `to` (both
 * included): the finest width of STEPS_MS that needs at most MAX_BUCKETS (the widest beyond).
 */
export function bucketTiles(decidedAt: readonly number[], from: number, to: number): Pick<JobThroughput, 'start' | 'stepMs' | 'tiles'> {
  let end = Math.max(from, to);
  for (const at of decidedAt) end = Math.max(end, at);
  const buckets = (step: number) => Math.floor(end / step) - Math.floor(from / step) + 1;
  const stepMs = STEPS_MS.find((step) => buckets(step) <= MAX_BUCKETS) ?? STEPS_MS[STEPS_MS.length - 1];
  const start = Math.floor(from / stepMs) * stepMs;
  const tiles = new Array<number>(buckets(stepMs)).fill(0);
  for (const at of decidedAt) tiles[Math.max(0, Math.floor((at - start) / stepMs))]++;
  return { start, stepMs, tiles };
}

/**
 * Whole-number counts as percentages to `decimals` places that sum to exactly 100 (largest
 * remainder: each share rounded down, the units left over going to the largest remainders).
 */
export function percentages(counts: readonly number[], decimals = 1): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return counts.map(() => 0);
  const unit = 10 ** decimals;
  const exact = counts.map((c) => (c * 100 * unit) / total);
  const floors = exact.map(Math.floor);
  let left = 100 * unit - floors.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, i) => [e - floors[i], i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of byRemainder) {
    if (left-- <= 0) break;
    floors[i]++;
  }
  return floors.map((f) => f / unit);
}

/** Each worker's accepted results over the job's verified tiles, most first (ties by id). */
export function workerShares(tiles: readonly TileOutcome[]): WorkerShare[] {
  const counts = new Map<string, number>();
  for (const t of tiles) for (const w of t.workers) counts.set(w, (counts.get(w) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const percents = percentages(sorted.map(([, n]) => n));
  return sorted.map(([worker, replicas], i) => ({ worker, replicas, percent: percents[i] }));
}

/** A job's picture: its verified tiles over its life so far (`until`: its end, or now), and who rendered them. */
export function jobThroughput(tiles: readonly TileOutcome[], createdAt: number, until: number): JobThroughput {
  return {
    ...bucketTiles(
      tiles.map((t) => t.decidedAt),
      createdAt,
      until,
    ),
    shares: workerShares(tiles),
  };
}

/**
 * A worker's ring of minute counts (field → `<minute> <count>`, minutes since the epoch, as
 * includes/reputation.lua writes them) as RecentResults at `now`: minutes older than the window,
 * left in fields not yet reused, and anything unreadable count nothing.
 */
export function recentResults(ring: Readonly<Record<string, string>>, now: number): number[] {
  const current = Math.floor(now / 60_000);
  const counts = new Array<number>(RECENT_MINUTES).fill(0);
  for (const value of Object.values(ring)) {
    const m = /^(\d+) (\d+)$/.exec(value);
    if (!m) continue;
    const age = current - Number(m[1]);
    if (age >= 0 && age < RECENT_MINUTES) counts[RECENT_MINUTES - 1 - age] += Number(m[2]);
  }
  return counts;
}
