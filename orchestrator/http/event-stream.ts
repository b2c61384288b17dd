/**
 * Server-sent events for live views: the stream itself (headers, named events, keepalive
 * comments), a batcher that turns a burst of change notices into one update at most every few
 * hundred milliseconds, so a busy farm sends a few messages a second whatever its tile rate, and
 * the bounds that keep streams from holding the orchestrator's memory: how many are open, and
 * what a client that does not read may leave unsent.
 */
import type { Response } from 'express';
import { HttpError } from './problem.ts';

/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
/** What a stream may hold unsent (its client does not read) before it is dropped: the client reconnects and reloads. */
export const MAX_UNSENT_BYTES = 2 * 1024 * 1024;
/** What a stream is sent a second at most: the status of a job of thousands of frames (each frame's progress) comes less often. */
export const STREAM_BYTES_PER_SECOND = 256 * 1024;

export interface EventStream {
  /** Sends an event; returns its bytes (0 once the client has gone, or was dropped for not reading). */
  send(event: string, data: unknown): number;
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
      if (stream.closed) return 0;
      if (res.writableLength > MAX_UNSENT_BYTES) {
        res.destroy();
        return 0;
      }
      const message = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      res.write(message);
      return message.length;
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

/**
 * Calls `flush` with the keys added since the last one, one flush at a time, at most every `ms`
 * and no faster than STREAM_BYTES_PER_SECOND of what the flushes say they sent.
 */
export function batcher(ms: number, flush: (keys: string[]) => Promise<number>, onError: (err: Error) => void): Batcher {
  const keys = new Set<string>();
  let pending = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wait = ms;
  const schedule = () => {
    timer ??= setTimeout(async () => {
      const batch = [...keys];
      keys.clear();
      pending = false;
      const sent = await flush(batch).catch((err: Error) => {
        onError(err);
        return 0;
      });
      wait = Math.max(ms, (sent * 1000) / STREAM_BYTES_PER_SECOND);
      timer = undefined;
      if (pending && !stopped) schedule();
    }, wait);
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

/**
 * Live views open in this process, per owner and in all: each holds a subscription and, for a
 * client that reads slowly, up to MAX_UNSENT_BYTES.
 */
export class StreamLimits {
  private readonly byOwner = new Map<string, number>();
  private open = 0;

  constructor(
    readonly perOwner: number,
    readonly total: number,
  ) {}

  /** Counts a stream of `owner`'s until `res` closes; refuses one past either bound (429, 503). */
  admit(owner: string, res: Response): void {
    const mine = this.byOwner.get(owner) ?? 0;
    const refusal =
      mine >= this.perOwner
        ? new HttpError(429, 'Too many requests', `at most ${this.perOwner} live views are open at once per requester: close one`)
        : this.open >= this.total
          ? new HttpError(503, 'Busy', `this orchestrator serves ${this.total} live views at once; retry shortly`)
          : undefined;
    if (refusal) {
      res.set('Retry-After', '5');
      throw refusal;
    }
    this.byOwner.set(owner, mine + 1);
    this.open++;
    res.once('close', () => {
      this.open--;
      const left = (this.byOwner.get(owner) ?? 1) - 1;
      if (left > 0) this.byOwner.set(owner, left);
      else this.byOwner.delete(owner);
    });
  }
}
