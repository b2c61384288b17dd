/**
 * `farm reserve` (a requester buys RU in a forward window), `farm offer` (a provider sells RU in
 * one, with collateral) and `farm withdraw` (either takes its order back before the window's gate).
 */
import { ForwardCurve, type ForwardOrderView } from '../shared/market.ts';
import { formatCredits } from '../shared/money.ts';
import { WorkerClient } from '../worker/client.ts';
import { loadIdentity } from '../worker/identity.ts';
import { RequesterClient } from './requester.ts';

interface OrderFlags {
  orchestrator: string;
  /** `next`, an ISO time, or milliseconds since the epoch: the window's start. */
  window: string;
  ru: string;
}

/** The window a flag names: `next` is the first that still takes orders. */
async function windowStart(base: string, window: string): Promise<number> {
  if (window !== 'next') {
    const start = /^\d+$/.test(window) ? Number(window) : Date.parse(window);
    if (Number.isNaN(start)) throw new Error(`--window: "${window}" is not next, an ISO time or milliseconds`);
    return start;
  }
  const res = await fetch(`${base}/api/market/forwards`);
  if (!res.ok) throw new Error(`GET /api/market/forwards: ${res.status}`);
  const curve = ForwardCurve.parse(await res.json());
  const open = curve.windows.find((w) => w.state === 'open' && w.start - curve.gateMs > Date.now());
  if (!open) throw new Error('no window takes orders now');
  return open.start;
}

const describe = (o: ForwardOrderView) =>
  `${o.side === 'bid' ? 'reservation' : 'offer'} ${o.id}: ${o.ru} RU in ${new Date(o.start).toISOString()} – ${new Date(o.end).toISOString()} ` +
  `at ${o.side === 'bid' ? 'most' : 'least'} ${o.limit} credits/RU; ${formatCredits(o.locked)} credits locked ` +
  `(${o.side === 'bid' ? 'escrow: what it does not buy comes back when the window clears' : 'collateral'})`;

export async function reserveCommand(flags: OrderFlags & { maxPrice: string }): Promise<void> {
  const base = flags.orchestrator.replace(/\/$/, '');
  const token = process.env.FARM_TOKEN;
  if (!token) throw new Error('set FARM_TOKEN to your API token');
  const body = { start: await windowStart(base, flags.window), ru: Number(flags.ru), maxPrice: Number(flags.maxPrice) };
  const placed = (await (await new RequesterClient(base, token).call('POST', '/api/reservations', body)).json()) as ForwardOrderView;
  process.stdout.write(`${describe(placed)}\n`);
}

export async function offerCommand(flags: OrderFlags & { minPrice: string; key: string }): Promise<void> {
  const base = flags.orchestrator.replace(/\/$/, '');
  const client = new WorkerClient(base, await loadIdentity(flags.key));
  const placed = await client.offer({
    start: await windowStart(base, flags.window),
    ru: Number(flags.ru),
    minPrice: Number(flags.minPrice),
  });
  process.stdout.write(`${describe(placed)}\n`);
}

/** A reservation (with FARM_TOKEN), or with `--key` a worker's offer, withdrawn before its window's gate. */
export async function withdrawCommand(order: string, flags: { orchestrator: string; key?: string }): Promise<void> {
  const base = flags.orchestrator.replace(/\/$/, '');
  let withdrawn: ForwardOrderView;
  if (flags.key) withdrawn = await new WorkerClient(base, await loadIdentity(flags.key)).withdrawOffer(order);
  else {
    const token = process.env.FARM_TOKEN;
    if (!token) throw new Error("set FARM_TOKEN to your API token, or --key to withdraw a worker's offer");
    const res = await new RequesterClient(base, token).call('POST', `/api/reservations/${encodeURIComponent(order)}/withdraw`, {});
    withdrawn = (await res.json()) as ForwardOrderView;
  }
  const what = withdrawn.side === 'bid' ? 'reservation' : 'offer';
  process.stdout.write(`${what} ${withdrawn.id} withdrawn: ${formatCredits(withdrawn.locked)} credits back in the balance\n`);
}
