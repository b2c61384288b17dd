/**
 * Who is calling. Requesters send `Authorization: Bearer <token>`; workers sign every request
 * with their Ed25519 key (shared/signing.ts) over the exact bytes of the body.
 */
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

export function requireRequester(tokens: Tokens) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const m = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    if (!m) throw new HttpError(401, 'Unauthorized', 'send Authorization: Bearer <token> (FARM_TOKEN)');
    const principal = await tokens.lookup(m[1]);
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
    next();
  };
}
