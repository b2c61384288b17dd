/**
 * Server-sent events for live views: the stream itself (headers, named events, keepalive
 * comments) and a batcher that turns a burst of change notices into one update at most every
 * few hundred milliseconds, so a busy farm sends a few messages a second whatever its tile rate.
 */
import type { Response } from 'express';

/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

export interface EventStream {
  send(event: string, data: unknown): void;
  /** True once the client has gone. */
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

export function openEventStream(res: Response): EventStream {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // Headers now, not with the first event: the browser's EventSource opens on them.
  res.flushHeaders();
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  // The response never ends by itself, so its close means the client has gone.
  const gone = () => res.destroyed || !res.socket || res.socket.destroyed;
  const stream = {
    closed: gone(),
    send(event: string, data: unknown) {
      if (!stream.closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    onClose(fn: () => void) {
      if (stream.closed) fn();
      else res.on('close', fn);
    },
  };
  res.on('close', () => {
    stream.closed = true;
    clearInterval(keepalive);
  });
  if (stream.closed) clearInterval(keepalive);
  return stream;
}

export interface Batcher {
  /** Marks `key` changed (or just "something changed"); a flush follows within `ms`. */
  add(key?: string): void;
  stop(): void;
}

/** Calls `flush` with the keys added since the last one, at most every `ms`, one flush at a time. */
export function batcher(ms: number, flush: (keys: string[]) => Promise<void>, onError: (err: Error) => void): Batcher {
  const keys = new Set<string>();
  let pending = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer ??= setTimeout(async () => {
      const batch = [...keys];
      keys.clear();
      pending = false;
      await flush(batch).catch(onError);
      timer = undefined;
      if (pending && !stopped) schedule();
    }, ms);
  };
  return {
    add(key) {
      if (key !== undefined) keys.add(key);
      pending = true;
      if (!stopped) schedule();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
