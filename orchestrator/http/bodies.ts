/**
 * Reading request bodies. Every parser reads a body as sent: body-parser inflates gzip, deflate,
 * br and zstd bodies unless told not to, and its limit bounds the inflated size, so 53 bytes of
 * brotli were a 32 MiB upload for the orchestrator to read, hash and decode. No client of the farm
 * compresses a body; one that arrives compressed is refused (415) before a byte is inflated.
 *
 * And the bodies being read at once from one address, in this process. A signature already keeps
 * strangers' bodies unread (auth.ts); this bounds what keys that can sign send together, so an
 * address holds at most the bound times the largest body in memory. Past it a request is
 * refused (429) before its body is read.
 *
 * A requester's upload (an asset, a glTF import) is charged to its owner's MiB a minute and held
 * within a byte budget by its declared length, before a byte is read: parallel uploads neither
 * outrun the meter nor take the orchestrator's memory.
 */
import express, { type RequestHandler } from 'express';
import type { RateLimiterRedis } from 'rate-limiter-flexible';
import { type ByteBudget, overBudget } from './byte-budget.ts';
import { cutOffSlow, onClosed, type Pace } from './closed.ts';
import { addressOf, consumeMiB } from './limits.ts';
import { HttpError } from './problem.ts';

/**
 * Refuses a request whose body is encoded (compressed), for every route at once: whichever parser
 * a route reads with, nothing is inflated. As body-parser's own refusal, so problem.ts answers both alike.
 */
export const refuseEncodedBodies: RequestHandler = (req, _res, next) => {
  const encoding = (req.get('content-encoding') || 'identity').trim().toLowerCase();
  if (encoding === 'identity') return next();
  next(Object.assign(new Error(`unsupported content encoding "${encoding}"`), { status: 415, type: 'encoding.unsupported', encoding }));
};

/** The body's bytes as sent, at most `limit` of them (any content type). */
export const readRaw = (limit: number): RequestHandler => express.raw({ type: () => true, limit, inflate: false });

/** The body as JSON, at most `limit` bytes as sent. */
export const readJson = (limit: number): RequestHandler => express.json({ limit, inflate: false });

/** Wraps body parsers so that at most `perAddress` of them read at once for one address. */
export function boundBodies(perAddress: number): (parser: RequestHandler) => RequestHandler {
  const reading = new Map<string, number>();
  return (parser) => (req, res, next) => {
    const address = addressOf(req);
    const now = reading.get(address) ?? 0;
    if (now >= perAddress) {
      res.set('Retry-After', '1');
      throw new HttpError(429, 'Too many requests', `at most ${perAddress} request bodies are read at once from one address`);
    }
    reading.set(address, now + 1);
    let read = false;
    // Once the parser is done, or the request ended without it (the client hung up).
    const done = () => {
      if (read) return;
      read = true;
      const left = (reading.get(address) ?? 1) - 1;
      if (left > 0) reading.set(address, left);
      else reading.delete(address);
    };
    onClosed(res, done);
    parser(req, res, (err?: unknown) => {
      done();
      next(err);
    });
  };
}

/** How fast an upload's body must arrive: one that trickles would hold its budget. */
const UPLOAD_PACE: Pace = { minBytesPerSecond: 64 * 1024, graceMs: 30_000 };

/**
 * Reads a requester's upload with `parser` (at most `limit` bytes) held in `budget` for its owner
 * by its declared length until the response is done, and charged to `meter` once it holds it (a
 * refusal costs nothing). A chunked body (no Content-Length) counts as `limit`; one declared over it
 * goes straight to the parser, which refuses it (413) unread, as does a request without a body.
 * One slower than `pace` is cut off.
 */
export function meteredUpload(
  budget: ByteBudget,
  meter: RateLimiterRedis,
  limit: number,
  parser: RequestHandler,
  pace = UPLOAD_PACE,
): RequestHandler {
  return async (req, res, next) => {
    const declared = Number(req.get('content-length') ?? (req.get('transfer-encoding') ? limit : 0));
    if (declared > limit || declared === 0) return parser(req, res, next);
    const bytes = Number.isSafeInteger(declared) && declared >= 0 ? declared : limit;
    const owner = req.principal?.owner as string;
    const held = await budget.hold(owner, bytes, async () => {
      await consumeMiB(meter, owner, res, bytes);
      const before = req.socket.bytesRead;
      // Read whole, it is done (bytes that came with its headers were read before `before`).
      const moved = () => (req.complete ? bytes : req.socket.bytesRead - before);
      cutOffSlow(res, bytes, moved, pace, () => req.destroy());
      const done = new Promise<void>((resolve) => onClosed(res, resolve));
      parser(req, res, next);
      await done;
    });
    if ('over' in held) throw overBudget(held.over, res, 'uploads are being read');
  };
}
