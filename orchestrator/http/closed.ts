/**
 * When a response is over (sent, or its client gone). Node emits a response's 'close' once: a
 * listener added after the client has gone (while a request awaited Redis for its token, say)
 * never hears it, and whatever it was to release stays held for good.
 */
import type { ServerResponse } from 'node:http';

/** Calls `fn` once `res` is closed: at once when it already is. */
export function onClosed(res: ServerResponse, fn: () => void): void {
  if (res.closed || res.destroyed) fn();
  else res.once('close', fn);
}
