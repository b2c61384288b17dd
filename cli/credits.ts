/** `farm credits grant|show`. */
import { RequesterClient } from './requester.ts';

export async function creditsGrant(account: string, amount: string, flags: { orchestrator: string }): Promise<void> {
  const token = process.env.FARM_TOKEN;
  if (!token) throw new Error('set FARM_TOKEN to the operator token');
  const client = new RequesterClient(flags.orchestrator.replace(/\/$/, ''), token);
  const res = await client.call('POST', '/api/credits', { account, amount: Number(amount) });
  const after = (await res.json()) as { balance: number; stake: number };
  console.log(`${account}: balance ${after.balance.toFixed(2)}, stake ${after.stake.toFixed(2)} credits`);
}

export async function creditsShow(account: string, flags: { orchestrator: string }): Promise<void> {
  const base = flags.orchestrator.replace(/\/$/, '');
  const res = await fetch(account === 'treasury' ? `${base}/api/treasury` : `${base}/api/workers/${account}/ledger`);
  if (!res.ok) throw new Error(`no account ${account} (${res.status})`);
  const body = (await res.json()) as {
    balance: number;
    stake: number;
    entries: { at: number; kind: string; amount: number; ref: string }[];
  };
  console.log(`${account}: balance ${body.balance.toFixed(2)}, stake ${body.stake.toFixed(2)} credits`);
  console.table(body.entries.map((e) => ({ at: new Date(e.at).toISOString(), kind: e.kind, credits: e.amount.toFixed(2), ref: e.ref })));
}
