/**
 * When a response is over (sent, or its client gone), and making it over when its client is too
 * slow. Node emits a response's 'close' once: a listener added after the client has gone (while a
 * request awaited Redis for its token, say) never hears it, and whatever it was to release stays
 * held for good.
 */
import type { ServerResponse } from 'node:http';

/** Calls `fn` once `res` is closed: at once when it already is. */
export function onClosed(res: ServerResponse, fn: () => void): void {
  if (res.closed || res.destroyed) fn();
  else res.once('close', fn);
}

/** Once `res` may be written again, or is closed; both listeners go once either comes (a stream flushes for hours). */
export function drainedOrClosed(res: ServerResponse): Promise<void> {
  if (res.closed || res.destroyed || !res.writableNeedDrain) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** How fast a body must move once its grace is over: one that trickles would hold what it was given for as long. */
export interface Pace {
  minBytesPerSecond: number;
  graceMs: number;
}

const PACE_CHECK_MS = 1000;

/**
 * Calls `cutOff` once a transfer of `total` bytes falls behind `pace`: at each look past the grace,
 * `moved()` must have reached minBytesPerSecond × the seconds since the grace ended. A client that
 * reads (or sends) nothing goes once what the sockets' buffers took in is behind the pace (a minute
 * or so at the gateway's), however large the transfer: a deadline for the whole of it had let a
 * fetch that read nothing hold a 256-MiB CAR for 17 minutes.
 */
export function cutOffSlow(res: ServerResponse, total: number, moved: () => number, pace: Pace, cutOff: () => void): void {
  const started = performance.now();
  const look = setInterval(() => {
    const done = moved();
    const owed = ((performance.now() - started - pace.graceMs) / 1000) * pace.minBytesPerSecond;
    if (done >= total) clearInterval(look);
    else if (done < owed) {
      clearInterval(look);
      cutOff();
    }
  }, PACE_CHECK_MS);
  onClosed(res, () => clearInterval(look));
}

const SEND_SLICE = 256 * 1024;

/**
 * Sends `parts`, one after the other, as the response's body a slice at a time, each once the last has gone out — so
 * that the socket holds a slice at most and how far its reader got can be seen (`watch` is told
 * how) — and cuts it off once its reader falls behind `pace`.
 */
export async function sendPaced(
  res: ServerResponse,
  parts: readonly Uint8Array[],
  pace: Pace,
  watch?: (moved: () => number) => void,
): Promise<void> {
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  let written = 0;
  // Handed on: what was written, less what the response and its socket still hold (counted on the
  // response, whose socket a pipelined request has not got yet).
  const moved = () => written - res.writableLength;
  cutOffSlow(res, total, moved, pace, () => res.destroy());
  watch?.(moved);
  res.setHeader('content-length', total);
  for (const bytes of parts)
    for (let at = 0; at < bytes.byteLength && !res.destroyed; at += SEND_SLICE) {
      const slice = bytes.subarray(at, at + SEND_SLICE);
      written += slice.byteLength;
      if (!res.write(slice)) await drainedOrClosed(res);
    }
  if (!res.destroyed) res.end();
}
