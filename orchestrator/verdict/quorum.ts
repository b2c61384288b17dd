/**
 * Fixed replication (pure): a tile is verified when the first R results all agree, or, after a
 * disagreement, when one hash holds a strict majority of at least two results.
 */
export interface Vote {
  slot: number;
  cid: string;
}

export interface Tally {
  cid: string;
  votes: number;
  /** Votes for the runner-up hash (0 when unanimous). */
  next: number;
}

/** The most voted hash (ties: the smaller CID, so every orchestrator picks the same). */
export function tally(votes: readonly Vote[]): Tally | undefined {
  const counts = new Map<string, number>();
  for (const v of votes) counts.set(v.cid, (counts.get(v.cid) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return ranked.length ? { cid: ranked[0][0], votes: ranked[0][1], next: ranked[1]?.[1] ?? 0 } : undefined;
}

/** The hash that verifies the tile under a quorum of R, if any. */
export function quorumWinner(votes: readonly Vote[], replicas: number): string | undefined {
  if (votes.length === 0 || votes.length < replicas) return undefined;
  const top = tally(votes) as Tally;
  const unanimous = top.votes === votes.length;
  const majority = top.votes >= 2 && top.votes * 2 > votes.length;
  return unanimous || majority ? top.cid : undefined;
}
