/**
 * Sarmenta's credibility-based fault tolerance ("Sabotage-tolerance mechanisms for volunteer
 * computing systems", FGCS 18(4), 2002), as iExec's Proof-of-Contribution applies it. Pure.
 *
 * f is the assumed fraction of saboteurs among workers that have been checked. A worker that has
 * passed k checks against ground truth since its last fault, under blacklisting, is good with
 * probability CrW = 1 − f / ((1 − f)·k·e). With k = 0 it carries no evidence at all: identities
 * are free, so an unchecked worker is worth exactly 1/2 — joining a group it changes nothing, and
 * decide.ts leaves groups of unchecked workers out of the weighing altogether, so any number of
 * fresh keys neither carries a result nor casts doubt on one. Results of one task form groups by
 * hash; a group's credibility weighs its members against every other group's.
 */

/** An operator's own worker: its result stands alone at any ε the API accepts. */
export const TRUSTED_CREDIBILITY = 1 - 1e-12;
/** A worker with no check passed: as likely good as bad, so it adds no weight. */
export const NO_EVIDENCE = 0.5;

/** Credibility of an untrusted worker with k checks against ground truth passed since its last fault. */
export function workerCredibility(f: number, k: number): number {
  if (k <= 0) return NO_EVIDENCE;
  return Math.max(NO_EVIDENCE, 1 - f / ((1 - f) * k * Math.E));
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
 * How many more agreeing results from workers of credibility `assumed` the leading group needs
 * to reach θ, at most `cap` (returns cap + 1 when even that is not enough). Only an estimate for
 * how many replicas to issue at once; verdicts never rest on it.
 */
export function agreeingNeeded(
  groups: readonly (readonly number[])[],
  leader: number,
  assumed: number,
  theta: number,
  cap: number,
): number {
  for (let more = 0; more <= cap; more++) {
    const grown = groups.map((g, i) => (i === leader ? [...g, ...Array(more).fill(assumed)] : g));
    if (groupCredibilities(grown)[leader] >= theta) return more;
  }
  return cap + 1;
}
