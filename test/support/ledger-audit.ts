/**
 * Audits a farm's ledger through its public API: every account (the treasury, the caller's own
 * requester account, every worker) replays its entries to what it holds, and how many times each
 * replica was paid. Used by the crash tests and `npm run chaos`.
 */

import type { RequesterClient } from '../../cli/requester.ts';
import { toMicros } from '../../shared/money.ts';
import type { LedgerPage, WorkerView } from '../../shared/protocol.ts';

export interface LedgerAudit {
  /** Every account's entries add up to its balance, stake, escrow and collateral, and none was trimmed. */
  replayed: boolean;
  /** µc held by all accounts together, and granted by the operator. */
  held: number;
  grants: number;
  /** µc still in the caller's escrow. */
  escrowLeft: number;
  /** Replicas paid more than once (an `earned` entry per payment, its ref the replica). */
  paidTwice: string[];
}

export async function auditLedger(url: string, requester: RequesterClient): Promise<LedgerAudit> {
  const accounts = ['treasury', 'requester'];
  for (let offset = 0; ; offset += 500) {
    const page = (await (await fetch(`${url}/api/workers?limit=500&offset=${offset}`)).json()) as { workers: WorkerView[] };
    accounts.push(...page.workers.map((w) => w.id));
    if (page.workers.length < 500) break;
  }
  const audit: LedgerAudit = { replayed: true, held: 0, grants: 0, escrowLeft: 0, paidTwice: [] };
  const earned = new Set<string>();
  for (const account of accounts) {
    const path = account === 'treasury' ? '/api/treasury' : account === 'requester' ? '/api/account' : `/api/workers/${account}/ledger`;
    const pageAt = async (offset: number) =>
      (await (await requester.call('GET', `${path}?limit=1000&offset=${offset}`)).json()) as LedgerPage;
    const first = await pageAt(0);
    let sum = 0;
    for (let offset = 0, page = first; page.entries.length > 0; offset += 1000, page = await pageAt(offset)) {
      for (const e of page.entries) {
        sum += toMicros(e.amount);
        if (e.kind === 'grant') audit.grants += toMicros(e.amount);
        if (e.kind === 'earned' && e.ref) {
          if (earned.has(e.ref)) audit.paidTwice.push(e.ref);
          earned.add(e.ref);
        }
      }
    }
    const holds = toMicros(first.balance) + toMicros(first.stake) + toMicros(first.held) + toMicros(first.collateral);
    audit.held += holds;
    if (sum !== holds || first.kept !== first.total) audit.replayed = false;
    if (account === 'requester') audit.escrowLeft = toMicros(first.held);
  }
  return audit;
}
