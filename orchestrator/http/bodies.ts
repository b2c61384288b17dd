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
 */
import express, { type RequestHandler } from 'express';
import { addressOf } from './limits.ts';
import { HttpError } from './problem.ts';

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
    res.once('close', done);
    parser(req, res, (err?: unknown) => {
      done();
      next(err);
    });
  };
}
