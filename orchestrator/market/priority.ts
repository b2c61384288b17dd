/**
 * Where a job's replica slots stand in their queues: the highest bids first, as the exchange
 * promises (pure). BullMQ serves priority 1 first and 2^21 − 1 last, in the order added within
 * one. A market order pays whatever the price is, so it goes first; a bid is placed by its
 * logarithm, so bids a part in 10^5 apart still differ anywhere between 0.001 and 10^6 credits
 * per RU.
 */
import { MAX_TICK } from './clearing.ts';

export const LOWEST_PRIORITY = 2 ** 21 - 1;
const SCALE = (LOWEST_PRIORITY - 2) / Math.log(MAX_TICK + 1);

/** `bid`: ticks per RU; null: a market order. */
export function slotPriority(bid: number | null): number {
  if (bid === null) return 1;
  return 2 + Math.round(SCALE * (Math.log(MAX_TICK + 1) - Math.log(Math.min(bid, MAX_TICK) + 1)));
}
