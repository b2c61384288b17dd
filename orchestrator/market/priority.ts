/**
 * Where a job's replica slots stand in their queues (pure). BullMQ serves priority 1 first and
 * 2^21 − 1 last, in the order added within one. The price comes first, as the exchange promises:
 * a market order takes the price (up to its collar, market/book.ts; over it, its slot steps aside
 * as a paused job's does), so it goes first, then bids from the highest, each
 * placed by its logarithm in one of 20,762 tiers, so bids 0.1 % apart still differ anywhere
 * between 0.001 and 10^6 credits per RU. Within a tier, the job's priority (0–100) orders them.
 */
import { DEFAULT_PRIORITY } from '../../shared/protocol.ts';
import type { Role } from '../state/tokens.ts';
import { MAX_TICK } from './clearing.ts';

export const LOWEST_PRIORITY = 2 ** 21 - 1;
/** Job priorities 0..100 within a tier. */
const LEVELS = 101;
/** Tier 0: market orders; bids from tier 1 (MAX_TICK) to the last tier (0 ticks). */
const LAST_TIER = Math.floor((LOWEST_PRIORITY - LEVELS) / LEVELS);
const SCALE = (LAST_TIER - 1) / Math.log(MAX_TICK + 1);

/** What orders a job's slots: its bid (ticks per RU; null: a market order) and its priority. */
export interface SlotRank {
  bid: number | null;
  priority: number;
}

const tier = (bid: number | null): number =>
  bid === null ? 0 : 1 + Math.round(SCALE * (Math.log(MAX_TICK + 1) - Math.log(Math.min(bid, MAX_TICK) + 1)));

export function slotPriority({ bid, priority }: SlotRank): number {
  return 1 + tier(bid) * LEVELS + (LEVELS - 1 - priority);
}

/**
 * Whether a caller of `role` may give a job `priority` (it has `current`): the operator any, a
 * requester at most the default, or at most what the job has (it may lower what the operator set).
 */
export const mayPrioritise = (role: Role | undefined, priority: number, current = DEFAULT_PRIORITY): boolean =>
  role === 'operator' || priority <= Math.max(DEFAULT_PRIORITY, current);
