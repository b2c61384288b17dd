/**
 * Who is calling. Requesters send `Authorization: Bearer <token>`, or, in a browser, the session
 * cookie that POST /api/session set from that token (an HttpOnly, SameSite=Strict cookie: it
 * authenticates <img> and EventSource requests, which cannot carry headers, and no other site
 * can make the browser send it). Workers sign every request with their Ed25519 key
 * (shared/signing.ts) over the exact bytes of the body.
 */
import { parse as parseCookies } from 'cookie';
import type { NextFunction, Request, Response } from 'express';
import { SIGNATURE_HEADERS, SIGNATURE_WINDOW_MS, verifyRequest } from '../../shared/signing.ts';
import type { Principal, Tokens } from '../state/tokens.ts';
import type { WorkerRecord, Workers } from '../state/workers.ts';
import { HttpError } from './problem.ts';

declare global {
  namespace Express {
    interface Request {
      principal?: Principal;
      worker?: WorkerRecord;
    }
  }
}

export const SESSION_COOKIE = 'farm_session';

/** The caller's API token: the bearer header first, else the session cookie. */
export function presentedToken(req: Request): string | undefined {
  const bearer = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
  return bearer ?? parseCookies(req.get('cookie') ?? '')[SESSION_COOKIE];
}

export function requireRequester(tokens: Tokens) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const token = presentedToken(req);
    if (!token) throw new HttpError(401, 'Unauthorized', 'send Authorization: Bearer <token> (FARM_TOKEN)');
    const principal = await tokens.lookup(token);
    if (!principal) throw new HttpError(401, 'Unauthorized', 'unknown API token');
    req.principal = principal;
    next();
  };
}

export function requireOperator(req: Request, _res: Response, next: NextFunction): void {
  if (req.principal?.role !== 'operator') throw new HttpError(403, 'Forbidden', 'operator token required');
  next();
}

/** Raw body bytes, as express.raw() leaves them (an empty body is an empty buffer). */
export const rawBody = (req: Request): Buffer => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

/** Checks the signature headers against `publicKey` (or the registered key of the named worker). */
export function checkSignature(req: Request, publicKey: string): void {
  const timestamp = req.get(SIGNATURE_HEADERS.timestamp) ?? '';
  const signature = req.get(SIGNATURE_HEADERS.signature) ?? '';
  if (!timestamp || !signature)
    throw new HttpError(401, 'Unsigned request', `send ${SIGNATURE_HEADERS.timestamp} and ${SIGNATURE_HEADERS.signature}`);
  if (Math.abs(Date.now() - Number(timestamp)) > SIGNATURE_WINDOW_MS)
    throw new HttpError(401, 'Stale signature', 'timestamp outside the accepted window');
  if (!verifyRequest(publicKey, req.method, req.originalUrl, rawBody(req), timestamp, signature)) {
    throw new HttpError(401, 'Bad signature', 'the signature does not match the request and key');
  }
}

export function requireWorker(workers: Workers) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const id = req.get(SIGNATURE_HEADERS.worker) ?? '';
    const worker = id ? await workers.get(id) : undefined;
    if (!worker) throw new HttpError(401, 'Unknown worker', `worker "${id}" is not registered`);
    checkSignature(req, worker.publicKey);
    req.worker = worker;
    // Every line logged for this request names the worker.
    if (req.log) req.log = req.log.child({ worker: worker.id });
    next();
  };
}
