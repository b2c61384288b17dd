/**
 * Sarmenta's credibility-based fault tolerance ("Sabotage-tolerance mechanisms for volunteer
 * computing systems", FGCS 18(4), 2002), as iExec's Proof-of-Contribution applies it. Pure.
 *
 * f is the assumed fraction of saboteurs. A worker that has passed k spot checks or replicated
 * agreements since its last fault, under blacklisting, is good with probability
 * CrW = 1 − f / ((1 − f)·k·e), or 1 − f with no record. Results of one task form groups by hash;
 * a group's credibility weighs its members against every other group's.
 */

/** Credibility of a worker with k passed checks since its last fault. */
export function workerCredibility(f: number, k: number): number {
  if (k <= 0) return 1 - f;
  return Math.max(1 - f, 1 - f / ((1 - f) * k * Math.E));
}

/**
 * CrG(a) = Pgood(a)·Π_{i≠a} Pbad(i) / (Σ_j Pgood(j)·Π_{i≠j} Pbad(i) + Π_i Pbad(i)),
 * with Pgood = Π CrW and Pbad = Π (1 − CrW) over a group's workers.
 * `groups[g]` lists the credibilities of the workers whose results fell in group g.
 */
export function groupCredibilities(groups: readonly (readonly number[])[]): number[] {
  const good = groups.map((g) => g.reduce((p, c) => p * c, 1));
  const bad = groups.map((g) => g.reduce((p, c) => p * (1 - c), 1));
  const allBad = bad.reduce((p, b) => p * b, 1);
  const weight = groups.map((_, a) => good[a] * bad.reduce((p, b, i) => (i === a ? p : p * b), 1));
  const denominator = weight.reduce((s, w) => s + w, 0) + allBad;
  return weight.map((w) => w / denominator);
}

/** Acceptance threshold θ = 1 − ε. */
export const threshold = (epsilon: number): number => 1 - epsilon;

/**
 * How many more agreeing results from fresh workers (credibility 1 − f) the leading group needs
 * to reach θ, at most `cap` (returns cap + 1 when even that is not enough).
 */
export function agreeingNeeded(groups: readonly (readonly number[])[], leader: number, f: number, theta: number, cap: number): number {
  for (let more = 0; more <= cap; more++) {
    const grown = groups.map((g, i) => (i === leader ? [...g, ...Array(more).fill(1 - f)] : g));
    if (groupCredibilities(grown)[leader] >= theta) return more;
  }
  return cap + 1;
}
