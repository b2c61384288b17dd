/** `farm reputation`: the public leaderboard, or one worker's record and evidence, as tables. */
import type { WorkerView } from '../shared/protocol.ts';
import { table } from './table.ts';

export interface ReputationFlags {
  orchestrator: string;
  sort: string;
  limit: string;
}

const pct = (x: number) => (x >= 0.9999 ? x.toFixed(6) : x.toFixed(4));

export async function reputationCommand(worker: string | undefined, flags: ReputationFlags): Promise<void> {
  const base = flags.orchestrator.replace(/\/$/, '');
  const path = worker ? `/api/workers/${worker}` : `/api/workers?sort=${flags.sort}&limit=${flags.limit}`;
  const res = await fetch(`${base}${path}`);
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${((await res.json().catch(() => ({}))) as { detail?: string }).detail ?? ''}`);
  const body = (await res.json()) as { workers?: WorkerView[] } & WorkerView & { evidence?: Record<string, unknown>[] };
  const rows = (body.workers ?? [body]).map((w) => ({
    worker: w.id,
    name: w.name,
    credibility: pct(w.credibility),
    valid: w.valid,
    invalid: w.invalid,
    'timed out': w.timedOut,
    rejected: w.rejected,
    passed: w.passed,
    faults: w.faults,
    trusted: w.trusted ? 'yes' : '',
    online: w.online ? 'yes' : 'no',
    class: w.class ?? w.classState,
  }));
  console.log(table(rows));
  if (body.evidence?.length) {
    console.log('evidence (latest first):');
    console.log(table(body.evidence.map((e) => ({ ...e, at: new Date(Number(e.at)).toISOString() }))));
  }
}
