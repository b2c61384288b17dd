/** `farm credits grant|show`. */
import { formatCredits as credits } from '../shared/money.ts';
import type { LedgerPage } from '../shared/protocol.ts';
import { RequesterClient } from './requester.ts';
import { table } from './table.ts';

function tokenClient(orchestrator: string, who: string): RequesterClient {
  const token = process.env.FARM_TOKEN;
  if (!token) throw new Error(`set FARM_TOKEN to ${who}`);
  return new RequesterClient(orchestrator.replace(/\/$/, ''), token);
}

export async function creditsGrant(account: string, amount: string, flags: { orchestrator: string }): Promise<void> {
  const res = await tokenClient(flags.orchestrator, 'the operator token').call('POST', '/api/credits', { account, amount: Number(amount) });
  const after = (await res.json()) as { balance: number; stake: number };
  console.log(`${account}: balance ${credits(after.balance)}, stake ${credits(after.stake)} credits`);
}

export async function creditsShow(account: string, flags: { orchestrator: string }): Promise<void> {
  const base = flags.orchestrator.replace(/\/$/, '');
  const res =
    account === 'me'
      ? await tokenClient(base, 'your API token').call('GET', '/api/account')
      : account === 'treasury'
        ? await tokenClient(base, 'the operator token').call('GET', '/api/treasury')
        : await fetch(`${base}/api/workers/${account}/ledger`);
  if (!res.ok) throw new Error(`no account ${account} (${res.status})`);
  const body = (await res.json()) as LedgerPage & { account: string };
  console.log(
    `${body.account ?? account}: balance ${credits(body.balance)}, stake ${credits(body.stake)}, in escrow ${credits(body.held)} credits`,
  );
  console.log(
    table(
      body.entries.map((e) => ({
        at: new Date(e.at).toISOString(),
        kind: e.kind,
        credits: credits(e.amount),
        to: e.to ?? '',
        ref: e.ref ?? '',
      })),
    ),
  );
}
