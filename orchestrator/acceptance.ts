/**
 * Credibility-based acceptance of a task (pure). Results are grouped by hash and weighed with
 * their workers' credibility; the task is accepted once some group reaches θ = 1 − ε. Until then
 * the scheduler adds as many fresh replicas as the leading group still needs (at least one), so a
 * proven worker's tile can stand alone while a newcomer's needs agreeing company.
 */
import { agreeingNeeded, groupCredibilities } from './credibility.ts';

export interface WeighedResult {
  replica: string;
  worker: string;
  cid: string;
  /** The worker's credibility when the task is judged. */
  credibility: number;
}

export interface AcceptanceInput {
  results: readonly WeighedResult[];
  outstanding: number;
  /** Assumed saboteur fraction. */
  f: number;
  theta: number;
  maxReplicas: number;
}

export type Acceptance =
  | { kind: 'verified'; cid: string; credibility: number; agree: string[]; disagree: string[] }
  | { kind: 'undecided'; issue: number; credibility: number }
  | { kind: 'exhausted'; credibility: number };

export function accept({ results, outstanding, f, theta, maxReplicas }: AcceptanceInput): Acceptance {
  if (results.length === 0) return { kind: 'undecided', issue: outstanding > 0 ? 0 : 1, credibility: 0 };
  const cids = [...new Set(results.map((r) => r.cid))];
  const groups = cids.map((cid) => results.filter((r) => r.cid === cid).map((r) => r.credibility));
  const cr = groupCredibilities(groups);
  const leader = cr.indexOf(Math.max(...cr));
  if (cr[leader] >= theta) {
    return {
      kind: 'verified',
      cid: cids[leader],
      credibility: cr[leader],
      agree: results.filter((r) => r.cid === cids[leader]).map((r) => r.replica),
      disagree: results.filter((r) => r.cid !== cids[leader]).map((r) => r.replica),
    };
  }
  const issued = results.length + outstanding;
  const room = maxReplicas - issued;
  if (room <= 0)
    return outstanding > 0 ? { kind: 'undecided', issue: 0, credibility: cr[leader] } : { kind: 'exhausted', credibility: cr[leader] };
  const needed = agreeingNeeded(groups, leader, f, theta, room);
  return { kind: 'undecided', issue: Math.max(0, Math.min(room, Math.max(1, needed) - outstanding)), credibility: cr[leader] };
}
