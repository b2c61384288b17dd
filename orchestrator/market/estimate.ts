/**
 * What a job will cost, before it runs (pure): its work in RU, the replicas each tile is expected
 * to take, and what submitting it holds in escrow. The work is an upper bound (every pixel-sample
 * tracing the most rays a scene may trace); the first verified tiles refine it for the book
 * (book.ts remainingRays), and a job pays only for the rays its valid replicas really traced.
 */
import { costMicros } from '../../shared/money.ts';
import { maxRays } from '../../shared/render-units.ts';

const CREDIBILITY_REDUNDANCY = 2;

export interface EstimateInput {
  pixels: number;
  frames: number;
  spp: number;
  verification: 'credibility' | 'quorum';
  replicas: number;
  /** Ticks per RU; null: a market order. */
  bid: number | null;
  /** µc; null: none given. */
  budget: number | null;
}

export interface Estimate {
  /** The most rays one replica of every tile can trace. */
  maxRays: number;
  /**
   * Replicas per tile the requester is expected to pay for: a quorum's R; under credibility two
   * (a newcomer's result stands once another agrees), fewer where proven providers' results
   * stand alone and more where results disagree: trust shows in the price.
   */
  redundancy: number;
  /** The price the hold assumes (ticks per RU): the bid, else the quote; null without either. */
  price: number | null;
  /** µc held at submission: the budget, else maxRays × redundancy at `price`. */
  hold: number;
  /** What the hold is: the budget given, or the estimate at the bid or at the market's quote. */
  basis: 'budget' | 'bid' | 'quote';
}

/** `quote`: the market's last price, or its cheapest ask when nothing crossed (ticks; null: neither). */
export function estimate(job: EstimateInput, quote: number | null): Estimate {
  const rays = maxRays(job.pixels * job.frames, job.spp);
  const redundancy = job.verification === 'quorum' ? job.replicas : CREDIBILITY_REDUNDANCY;
  const price = job.bid ?? quote;
  const basis = job.budget !== null ? 'budget' : job.bid !== null ? 'bid' : 'quote';
  const hold = job.budget ?? costMicros(rays * redundancy, price ?? 0, 'up');
  return { maxRays: rays, redundancy, price, hold, basis };
}
