/**
 * Rate limits, kept in Redis by `rate-limiter-flexible` (so every orchestrator on one Redis
 * shares them): registrations per address, signed requests per worker key and per address, job
 * submissions and forward orders per requester or provider, estimates, MiB of asset uploads and
 * tiles re-run per requester, MiB the gateway sends per worker key, calibrations per key and per
 * address, and failed authentications per address — an address that keeps failing is turned away
 * before anything is looked up, from memory once it is over the limit.
 */

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Redis } from 'ioredis';
import ipaddr from 'ipaddr.js';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { MIB } from '../../shared/bytes.ts';
import { keys } from '../state/keys.ts';
import { HttpError } from './problem.ts';

export interface LimitSettings {
  registrationsPerMinute: number;
  workerRequestsPerSecond: number;
  workerRequestsPerAddressPerSecond: number;
  submissionsPerMinute: number;
  estimatesPerMinute: number;
  assetMiBPerMinute: number;
  gatewayMiBPerMinute: number;
  failedAuthPerMinute: number;
  rerunsPerHour: number;
  calibrationsPerHour: number;
  calibrationsPerAddressPerHour: number;
}

export interface Limits {
  registration: RateLimiterRedis;
  worker: RateLimiterRedis;
  workerAddress: RateLimiterRedis;
  submission: RateLimiterRedis;
  estimate: RateLimiterRedis;
  /** MiB of asset uploads per requester. */
  assetMiB: RateLimiterRedis;
  /** MiB the gateway (GET /ipfs/:cid) sends per worker key. */
  gatewayMiB: RateLimiterRedis;
  failedAuth: RateLimiterRedis;
  /** Tiles re-run per requester (a trusted worker renders each again, at the farm's cost). */
  rerun: RateLimiterRedis;
  /** Calibrations per worker key (each stores its answers). */
  calibration: RateLimiterRedis;
  /** Calibrations per address, all its keys together: a fresh key per registration would pass the key's. */
  calibrationAddress: RateLimiterRedis;
}

export function createLimits(redis: Redis, s: LimitSettings): Limits {
  const make = (name: string, points: number, duration: number) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${keys.rateLimits}:${name}`,
      points,
      duration,
      // Past the limit a key is refused from memory, without a Redis call, until its window ends.
      inMemoryBlockOnConsumed: points + 1,
    });
  return {
    registration: make('register', s.registrationsPerMinute, 60),
    worker: make('worker', s.workerRequestsPerSecond, 1),
    workerAddress: make('worker-address', s.workerRequestsPerAddressPerSecond, 1),
    submission: make('submit', s.submissionsPerMinute, 60),
    estimate: make('estimate', s.estimatesPerMinute, 60),
    assetMiB: make('asset-mib', s.assetMiBPerMinute, 60),
    gatewayMiB: make('gateway-mib', s.gatewayMiBPerMinute, 60),
    failedAuth: make('authfail', s.failedAuthPerMinute, 60),
    rerun: make('rerun', s.rerunsPerHour, 3600),
    calibration: make('calibration', s.calibrationsPerHour, 3600),
    calibrationAddress: make('calibration-address', s.calibrationsPerAddressPerHour, 3600),
  };
}

/** 429 with Retry-After when the limiter refuses; a Redis failure is a 500 like any other. */
export async function consume(limiter: RateLimiterRedis, key: string, res: Response, points = 1): Promise<void> {
  try {
    await limiter.consume(key, points);
  } catch (e) {
    if (!(e instanceof RateLimiterRes)) throw e;
    const seconds = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
    res.set('Retry-After', String(seconds));
    throw new HttpError(429, 'Too many requests', `rate limit reached; retry in ${seconds} s`);
  }
}

/**
 * Charges `bytes` to a limiter of MiB a minute: a started MiB counts whole, and a body over a
 * whole window's allowance costs all of it (so it can still be sent, once a window).
 */
export const consumeMiB = (limiter: RateLimiterRedis, key: string, res: Response, bytes: number): Promise<void> =>
  consume(limiter, key, res, Math.min(limiter.points, Math.max(1, Math.ceil(bytes / MIB))));

/**
 * Takes `points` only if all of them are left in the window: a request for more than is left is
 * refused whole (429 until enough are back), and spends nothing.
 */
export async function consumeAll(limiter: RateLimiterRedis, key: string, res: Response, points: number): Promise<void> {
  if (points > limiter.points)
    throw new HttpError(429, 'Too many requests', `this needs ${points} of a rate limit of ${limiter.points}: ask for fewer at once`);
  const used = await limiter.get(key);
  const left = limiter.points - (used?.consumedPoints ?? 0);
  if (points > left) {
    const seconds = Math.max(1, Math.ceil((used?.msBeforeNext ?? limiter.duration * 1000) / 1000));
    res.set('Retry-After', String(seconds));
    throw new HttpError(429, 'Too many requests', `this needs ${points} of the rate limit, ${left} left; retry in ${seconds} s`);
  }
  await consume(limiter, key, res, points);
}

export const limitBy =
  (limiter: RateLimiterRedis, keyOf: (req: Request) => string): RequestHandler =>
  async (req: Request, res: Response, next: NextFunction) => {
    await consume(limiter, keyOf(req), res);
    next();
  };

/**
 * The client's address: the socket's, or, behind proxies the operator named (`trustProxy`), the
 * first untrusted one: Express walks from the socket leftwards through X-Forwarded-For while the
 * address it stands on is a trusted proxy's (with a hop count N, for N hops). So a client's own
 * entries, left of what the proxies append, are believed only if the client's address is itself
 * trusted (config.ts refuses subnets broad enough to hold clients) or, with a hop count, the
 * client reaches us through fewer proxies than counted.
 */
export const addressOf = (req: Request): string => limitedAs(req.ip ?? req.socket.remoteAddress ?? 'unknown');

/**
 * An address as its per-address limits count it: an IPv6 one by its /64, which one host (one
 * customer of a provider) is given whole — counted apart, each of its 2^64 addresses had its own
 * registrations, calibrations and failed logins a minute (an attacker's review); an IPv4-mapped
 * one as the IPv4 address it is.
 */
export function limitedAs(address: string): string {
  if (!ipaddr.IPv6.isValid(address)) return address;
  const v6 = ipaddr.IPv6.parse(address);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return `${v6.parts
    .slice(0, 4)
    .map((p) => p.toString(16))
    .join(':')}::/64`;
}
