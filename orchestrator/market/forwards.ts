/**
 * Reservations (forwards), the pure part. Time is cut into windows of `windowMs`; requesters bid
 * for RU in a future window, providers offer RU in it with collateral, and each window's book is
 * cleared by the spot market's auction (clearing.ts) at its gate, `gateMs` before it starts.
 * During the window the providers that sold serve the buyers' jobs first at the window's price;
 * after it, a provider that delivered less than it sold, while buyer work was waiting, pays the
 * buyers out of its collateral. Quantities are rays (book units are 10^3 rays), money µc.
 */
import { costMicros } from '../../shared/money.ts';

export interface ForwardSettings {
  windowMs: number;
  gateMs: number;
  horizonMs: number;
  /** Share of the value sold a provider locks as collateral. */
  collateralShare: number;
}

/** The window a time falls in: its start. */
export const windowAt = (t: number, s: Pick<ForwardSettings, 'windowMs'>): number => Math.floor(t / s.windowMs) * s.windowMs;

/** Windows that take orders at `now`: from the first whose gate is still ahead, to the horizon. */
export function openWindows(now: number, s: ForwardSettings): number[] {
  const starts: number[] = [];
  for (let start = windowAt(now, s) + s.windowMs; start <= now + s.horizonMs; start += s.windowMs)
    if (start - s.gateMs > now) starts.push(start);
  return starts;
}

/** Why an order may not name `start` now, or null when it may. */
export function windowRefusal(start: number, now: number, s: ForwardSettings): string | null {
  if (start % s.windowMs !== 0) return `a window starts at a multiple of ${s.windowMs} ms since the epoch`;
  if (start - s.gateMs <= now) return `orders for this window closed ${s.gateMs} ms before it starts`;
  if (start > now + s.horizonMs) return `windows open ${s.horizonMs} ms ahead at most`;
  return null;
}

/** µc of collateral an offer of `rays` at `ticks` per RU locks: the share of its value, rounded up. */
export const collateralFor = (rays: number, ticks: number, share: number): number => Math.ceil(costMicros(rays, ticks, 'up') * share);

/** A provider's part of a window at settlement. */
export interface Obligation {
  worker: string;
  /** Rays it sold, delivered on buyers' jobs, and was excused from (it asked for work while buyers had none). */
  owed: number;
  delivered: number;
  excused: number;
  /** µc it locked for the rays it sold. */
  collateral: number;
}

/** A buyer's part: rays it bought and received. */
export interface Entitlement {
  owner: string;
  entitled: number;
  received: number;
}

export interface WindowSettlement {
  /** Per provider: collateral forfeited to the buyers, and returned to it. */
  providers: { worker: string; forfeit: number; returned: number }[];
  /** Per buyer: compensation out of the forfeited collateral. */
  buyers: { owner: string; compensation: number }[];
  /** What an uneven split leaves, to the treasury. */
  remainder: number;
}

/** ⌊x × y ÷ d⌋ exactly (µc × rays overflow doubles). */
const mulDivDown = (x: number, y: number, d: number): number => (d <= 0 ? 0 : Number((BigInt(x) * BigInt(y)) / BigInt(d)));

/**
 * Each provider forfeits its collateral × its shortfall ÷ what it sold (rounded down), where the
 * shortfall is what it sold and neither delivered nor was excused from; the rest comes back.
 * Buyers share the forfeits in proportion to the rays they bought and did not receive (a buyer
 * served in full gets nothing); an uneven split's remainder, or forfeits with no buyer short,
 * go to the treasury.
 */
export function settleWindow(obligations: readonly Obligation[], entitlements: readonly Entitlement[]): WindowSettlement {
  const providers = obligations.map((o) => {
    const short = Math.max(0, o.owed - o.delivered - o.excused);
    const forfeit = Math.min(o.collateral, mulDivDown(o.collateral, Math.min(short, o.owed), o.owed));
    return { worker: o.worker, forfeit, returned: o.collateral - forfeit };
  });
  const pool = providers.reduce((s, p) => s + p.forfeit, 0);
  const unserved = entitlements.map((e) => Math.max(0, e.entitled - e.received));
  const totalUnserved = unserved.reduce((s, u) => s + u, 0);
  const buyers = entitlements
    .map((e, i) => ({ owner: e.owner, compensation: mulDivDown(pool, unserved[i], totalUnserved) }))
    .filter((b) => b.compensation > 0);
  return { providers, buyers, remainder: pool - buyers.reduce((s, b) => s + b.compensation, 0) };
}
