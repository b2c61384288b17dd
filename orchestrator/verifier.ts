/**
 * Judges a task from its replicas' canonical hashes (pure). A tile is verified when the first R
 * results all agree, or, after a disagreement, when one hash holds a strict majority of at least
 * two results; until then one more replica is issued at a time to a fresh worker.
 */
export interface ReplicaResult {
  replica: string;
  worker: string;
  cid: string;
}

export interface JudgeInput {
  results: readonly ReplicaResult[];
  /** Replicas issued whose results have not arrived. */
  outstanding: number;
  /** Replicas the job asked for (R). */
  replicas: number;
  /** Give up on the task once this many replicas were issued without a majority. */
  maxReplicas: number;
}

export type Verdict =
  | { kind: 'verified'; cid: string; agree: string[]; disagree: string[] }
  | { kind: 'undecided'; issue: number }
  | { kind: 'exhausted' };

export function judge({ results, outstanding, replicas, maxReplicas }: JudgeInput): Verdict {
  const n = results.length;
  if (n === 0 || n < replicas) return { kind: 'undecided', issue: 0 };
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r.cid, (counts.get(r.cid) ?? 0) + 1);
  const [leader, votes] = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0];
  const unanimous = votes === n;
  const majority = votes >= 2 && votes * 2 > n;
  if (unanimous || majority) {
    return {
      kind: 'verified',
      cid: leader,
      agree: results.filter((r) => r.cid === leader).map((r) => r.replica),
      disagree: results.filter((r) => r.cid !== leader).map((r) => r.replica),
    };
  }
  if (outstanding > 0) return { kind: 'undecided', issue: 0 };
  if (n >= maxReplicas) return { kind: 'exhausted' };
  return { kind: 'undecided', issue: 1 };
}
