/**
 * Who is calling — decided before any body is read. Requesters send `Authorization: Bearer
 * <token>`, or, in a browser, the session cookie that POST /api/session set from that token (an
 * HttpOnly, SameSite=Strict cookie: it authenticates <img> and EventSource requests, which cannot
 * carry headers, and no other site can make the browser send it). Workers sign every request with
 * their Ed25519 key (shared/signing.ts) over the hash of the body, which they send in a header:
 * the signature is checked against that claim before the body is read, the body (bounded)
 * against the claim once it has arrived, and a signature is accepted once only.
 */
import { parse as parseCookies } from 'cookie';
import type { NextFunction, Request, Response } from 'express';
import type { RateLimiterRedis } from 'rate-limiter-flexible';
import { Ids } from '../../shared/protocol.ts';
import {
  bodyDigest,
  EMPTY_BODY_DIGEST,
  isFresh,
  SIGNATURE_HEADERS,
  SIGNATURE_WINDOW_MS,
  STALE_SIGNATURE,
  verifyRequest,
} from '../../shared/signing.ts';
import { keys } from '../state/keys.ts';
import type { FarmRedis } from '../state/redis.ts';
import type { Principal, Tokens } from '../state/tokens.ts';
import type { WorkerRecord, Workers } from '../state/workers.ts';
import { addressOf, consume, type Limits } from './limits.ts';
import { HttpError } from './problem.ts';

declare global {
  namespace Express {
    interface Request {
      principal?: Principal;
      /** Whether the token the request came with is still good (a long request, a live view, outlives a revocation). */
      stillAuthorized?: () => Promise<boolean>;
      worker?: WorkerRecord;
    }
  }
}

/**
 * The session cookie's name. Over HTTPS it is a `__Host-` cookie, which only this host can set: a
 * page on a sibling subdomain could otherwise set `farm_session` for the parent domain on a longer
 * path, which the browser sends first, and the victim's uploads and submissions went into the
 * attacker's account (an attacker's review). Plain HTTP (a farm on localhost) keeps the plain name.
 */
export const sessionCookie = (req: Request): string => (req.secure ? '__Host-farm_session' : 'farm_session');

/**
 * The caller's API token: the bearer header first, else the session cookie — none where the
 * request carries that cookie twice (one tossed in beside the farm's own: neither is trusted).
 */
export function presentedToken(req: Request): string | undefined {
  const bearer = bearerOf(req);
  if (bearer) return bearer;
  const name = sessionCookie(req);
  const header = req.get('cookie') ?? '';
  // Named as the parser names them (trimmed, up to the first '='): the one counted is the one read.
  const named = header.split(';').filter((pair) => pair.includes('=') && pair.slice(0, pair.indexOf('=')).trim() === name);
  return named.length === 1 ? parseCookies(header)[name] : undefined;
}

const bearerOf = (req: Request): string | undefined => /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];

/**
 * Whether a request that changes something, or opens a live view, and is authenticated by the
 * session cookie alone came from another origin. SameSite=Strict keeps other *sites* from sending
 * the cookie, not a page on a sibling subdomain (same site), which could otherwise cancel jobs or
 * withdraw reservations, or hold the caller's few live views open so that its own dashboard gets
 * none (attackers' reviews). Browsers say where a request comes from (`Sec-Fetch-Site`, else
 * `Origin`); a client that says neither is not a browser sent by another page.
 */
function crossOrigin(req: Request): boolean {
  if (bearerOf(req)) return false;
  const liveView = req.method === 'GET' && (req.originalUrl.split('?')[0] ?? '').endsWith('/events');
  if (['GET', 'HEAD', 'OPTIONS'].includes(req.method) && !liveView) return false;
  const site = req.get('sec-fetch-site');
  if (site) return site !== 'same-origin' && site !== 'none';
  const origin = req.get('origin');
  if (!origin) return false;
  try {
    return new URL(origin).host !== req.get('host');
  } catch {
    return true;
  }
}

/** rate-limiter-flexible keeps keys over their limit in memory; its type declarations omit the lookup. */
function blockedFor(limiter: RateLimiterRedis, key: string): number {
  const l = limiter as unknown as { getKey(k: string): string; getInMemoryBlockMsBeforeExpire(k: string): number };
  return l.getInMemoryBlockMsBeforeExpire(l.getKey(key));
}

/**
 * Refuses an address that keeps failing authentication (429, from memory), and counts this
 * failure against it.
 */
export class AuthGate {
  /** `farm`: the farm's id, which every worker signature covers (shared/signing.ts). */
  constructor(
    private readonly limits: Limits,
    readonly farm: string,
  ) {}

  refuseBlocked(req: Request, res: Response): void {
    const ms = blockedFor(this.limits.failedAuth, addressOf(req));
    if (ms > 0) {
      res.set('Retry-After', String(Math.ceil(ms / 1000)));
      throw new HttpError(429, 'Too many requests', 'too many failed authentications from this address');
    }
  }

  /** Counts a failure, then throws the 401 (or the 429 once the address is over the limit). */
  async fail(req: Request, res: Response, error: HttpError): Promise<never> {
    await consume(this.limits.failedAuth, addressOf(req), res);
    throw error;
  }
}

export function requireRequester(tokens: Tokens, gate: AuthGate) {
  return async (req: Request, res: Response, next: NextFunction) => {
    gate.refuseBlocked(req, res);
    const token = presentedToken(req);
    if (!token) return gate.fail(req, res, new HttpError(401, 'Unauthorized', 'send Authorization: Bearer <token> (FARM_TOKEN)'));
    if (crossOrigin(req)) throw new HttpError(403, 'Cross-origin request', 'the session cookie is only taken from this origin’s own pages');
    const principal = await tokens.lookup(token);
    if (!principal) return gate.fail(req, res, new HttpError(401, 'Unauthorized', 'unknown API token'));
    req.principal = principal;
    req.stillAuthorized = async () => (await tokens.lookup(token)) !== undefined;
    next();
  };
}

export function requireOperator(req: Request, _res: Response, next: NextFunction): void {
  if (req.principal?.role !== 'operator') throw new HttpError(403, 'Forbidden', 'operator token required');
  next();
}

/** Raw body bytes, as express.raw() leaves them (an empty body is an empty buffer). */
export const rawBody = (req: Request): Buffer => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

/** A signed request's headers, checked before its body is read: present, and a fresh numeric timestamp. */
function signatureHeaders(req: Request): { timestamp: string; signature: string } {
  const timestamp = req.get(SIGNATURE_HEADERS.timestamp) ?? '';
  const signature = req.get(SIGNATURE_HEADERS.signature) ?? '';
  if (!timestamp || !signature)
    throw new HttpError(401, 'Unsigned request', `send ${SIGNATURE_HEADERS.timestamp} and ${SIGNATURE_HEADERS.signature}`);
  if (!isFresh(timestamp))
    throw new HttpError(
      401,
      STALE_SIGNATURE,
      `${SIGNATURE_HEADERS.timestamp} must be milliseconds since the epoch, within ${SIGNATURE_WINDOW_MS / 1000} s of now`,
    );
  return { timestamp, signature };
}

/** The body hash a signed request claims: an empty body's when it sends none. */
const claimedDigest = (req: Request): string => req.get(SIGNATURE_HEADERS.body) ?? EMPTY_BODY_DIGEST;

/**
 * Checks the signature headers against `publicKey`, over the body hash the request claims (so
 * before its body need be read: checkBody holds the body to the claim), then records the
 * signature so that the same signed request is refused the second time (409) — after `admit`
 * (the key's rate limit): a key's requests past it had each still left a 10-minute record in Redis
 * (an attacker's review: 2,000 a second from one address, about 200 MiB kept).
 */
export async function checkSignature(
  redis: FarmRedis,
  gate: AuthGate,
  req: Request,
  res: Response,
  publicKey: string,
  admit: () => Promise<void> = async () => undefined,
): Promise<void> {
  let headers: { timestamp: string; signature: string };
  try {
    headers = signatureHeaders(req);
  } catch (e) {
    return gate.fail(req, res, e as HttpError);
  }
  if (!verifyRequest(publicKey, gate.farm, req.method, req.originalUrl, claimedDigest(req), headers.timestamp, headers.signature))
    return gate.fail(
      req,
      res,
      new HttpError(401, 'Bad signature', `the signature does not match the request, its ${SIGNATURE_HEADERS.body} and the key`),
    );
  await admit();
  const first = await redis.set(keys.replay(headers.signature), 1, 'PX', 2 * SIGNATURE_WINDOW_MS, 'NX');
  if (first !== 'OK') throw new HttpError(409, 'Replayed request', 'this signed request was already received');
}

/** Once the body has arrived: it is the one whose hash the signature covered. */
export async function checkBody(gate: AuthGate, req: Request, res: Response): Promise<void> {
  if (bodyDigest(rawBody(req)) !== claimedDigest(req))
    return gate.fail(req, res, new HttpError(401, 'Bad signature', `the body does not match ${SIGNATURE_HEADERS.body}, which was signed`));
}

/**
 * Before the body: the worker exists, its signature covers the request and the body it claims,
 * the key's request rate admits it (only a verified request spends it, so nobody can exhaust
 * another worker's by naming it; one who has seen a signed request may spend it by replaying it
 * within the signature's window, refused as a replay), and it was not seen before; whoever cannot
 * sign as the worker is refused without a byte of the body read.
 */
export function authenticateWorker(redis: FarmRedis, workers: Workers, gate: AuthGate, limits: Limits) {
  return async (req: Request, res: Response, next: NextFunction) => {
    gate.refuseBlocked(req, res);
    await consume(limits.workerAddress, addressOf(req), res);
    const id = req.get(SIGNATURE_HEADERS.worker) ?? '';
    const worker = Ids.worker.safeParse(id).success ? await workers.get(id) : undefined;
    if (!worker) return gate.fail(req, res, new HttpError(401, 'Unknown worker', `worker "${id.slice(0, 64)}" is not registered`));
    await checkSignature(redis, gate, req, res, worker.publicKey, () => consume(limits.worker, worker.id, res));
    req.worker = worker;
    // Every line logged for this request names the worker.
    if (req.log) req.log = req.log.child({ worker: worker.id });
    next();
  };
}

/** After the body: it is the one the worker signed. */
export function verifyBody(gate: AuthGate) {
  return async (req: Request, res: Response, next: NextFunction) => {
    await checkBody(gate, req, res);
    next();
  };
}
