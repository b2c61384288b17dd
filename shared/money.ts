/**
 * Money: credits, held as integer micro-credits (µc, 10^-6 credit) everywhere the farm stores or
 * moves them. A micro-credit is fine enough that a small tile's work has a price: 10^4 rays at
 * 1 credit per RU cost 10 µc. On the wire, amounts are credits with at most six decimals.
 */
import { z } from 'zod';
import { RAYS_PER_RU } from './render-units.ts';

export const MICROS_PER_CREDIT = 1_000_000;

/**
 * An amount of credits on the wire: at least a micro-credit (1e-13 is positive, and was a stake of
 * nothing that Redis refused as "-0", a 500, or a job holding nothing), at most 10^8, at most six
 * decimals.
 */
export const Credits = z
  .number()
  .positive()
  .max(1e8)
  .refine((c) => Math.abs(c * MICROS_PER_CREDIT - Math.round(c * MICROS_PER_CREDIT)) < 1e-6, 'at most six decimals')
  .refine((c) => Math.round(c * MICROS_PER_CREDIT) >= 1, 'at least 0.000001');

export const toMicros = (credits: number): number => Math.round(credits * MICROS_PER_CREDIT);
/** Credits as the ledger holds them, to the micro-credit, without trailing zeros: 10, 0.00049. */
export const formatCredits = (credits: number): string => credits.toFixed(6).replace(/\.?0+$/, '');
export const fromMicros = (micros: number): number => micros / MICROS_PER_CREDIT;

/** x × y ÷ d, rounded down or up, exactly (BigInt: 10^11 rays × 10^9 ticks is past what doubles hold). */
function mulDiv(x: number, y: number, d: number, round: 'down' | 'up'): number {
  const product = BigInt(x) * BigInt(y);
  const quotient = product / BigInt(d);
  return Number(round === 'up' && quotient * BigInt(d) < product ? quotient + 1n : quotient);
}

/**
 * What `rays` cost at `ticks` (0.001 credit per RU), in µc: rounded down for a replica's payment,
 * up for what is held back for it. A tick per RU is 10^3 µc per 10^9 rays, so the cost is
 * rays × ticks ÷ 10^6. The Lua scripts compute the same with includes/escrow.lua's mulDiv.
 */
const RAYS_TICKS_PER_MICRO = RAYS_PER_RU / (MICROS_PER_CREDIT / 1000);
export const costMicros = (rays: number, ticks: number, round: 'down' | 'up' = 'down'): number =>
  mulDiv(rays, ticks, RAYS_TICKS_PER_MICRO, round);

/** The operator's fee on a payment, in µc, rounded down: `ppm` parts per million of it. */
export const feeMicros = (amount: number, ppm: number): number => mulDiv(amount, ppm, 1_000_000, 'down');
