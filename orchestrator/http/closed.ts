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

/** How fast a body must move, after a grace: one that trickles would hold what it was given for as long. */
export interface Pace {
  minBytesPerSecond: number;
  graceMs: number;
}

/** Calls `cutOff` unless `res` is over in the time `bytes` take at `pace`. */
export function cutOffSlow(res: ServerResponse, bytes: number, pace: Pace, cutOff: () => void): void {
  const deadline = setTimeout(cutOff, pace.graceMs + (bytes / pace.minBytesPerSecond) * 1000);
  onClosed(res, () => clearTimeout(deadline));
}
