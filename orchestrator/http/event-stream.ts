/**
 * Server-sent events for live views: the stream itself (headers, named events, keepalive
 * comments), a batcher that turns a burst of change notices into one update at most every few
 * hundred milliseconds, so a busy farm sends a few messages a second whatever its tile rate, and
 * the bounds that keep streams from holding the orchestrator's memory: how many are open, a
 * flush at a time for a client that reads slowly, and none for one that stopped reading.
 */
import type { Response } from 'express';
import { drainedOrClosed, onClosed } from './closed.ts';
import { HttpError } from './problem.ts';

/** A comment line now and then keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
/** A stream whose client has read none of what waits for this long is dropped: it reconnects and reloads. */
export const STALLED_MS = 60_000;
/** How often a stream asks whether its token is still good: a revoked one's streams end within this. */
export const REVALIDATE_MS = 5_000;
/** What a stream is sent a second at most: the status of a job of thousands of frames (each frame's progress) comes less often. */
export const STREAM_BYTES_PER_SECOND = 256 * 1024;

export interface EventStream {
  /** Sends an event; returns its bytes (0 once the client has gone). */
  send(event: string, data: unknown): number;
  /**
   * Resolves once what was sent has gone out to the client (or it has gone): a flush waits for
   * it, so a slow reader holds at most one flush unsent, and its changes meanwhile come together.
   */
  drained(): Promise<void>;
  /** True once the client has gone. */
  readonly closed: boolean;
  onClose(fn: () => void): void;
}

export interface StreamOptions {
  stalledMs?: number;
  /** Asked every REVALIDATE_MS: the stream ends once it says no (its token was revoked). */
  stillAuthorized?: () => Promise<boolean>;
}

export function openEventStream(res: Response, { stalledMs = STALLED_MS, stillAuthorized }: StreamOptions = {}): EventStream {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // Headers now, not with the first event: the browser's EventSource opens on them.
  res.flushHeaders();
  // What waited unsent at the last look, and since when none of it has gone out (null: it moves).
  let unsent = 0;
  let stuckSince: number | null = null;
  const watch = setInterval(
    () => {
      const now = res.writableLength;
      if (now === 0 || now < unsent) stuckSince = null;
      else stuckSince ??= performance.now();
      unsent = now;
      if (stuckSince !== null && performance.now() - stuckSince >= stalledMs) res.destroy();
    },
    Math.min(KEEPALIVE_MS, stalledMs / 4),
  );
  res.on('drain', () => {
    unsent = 0;
    stuckSince = null;
  });
  const keepalive = setInterval(() => {
    if (!res.writableNeedDrain) res.write(': keepalive\n\n');
  }, KEEPALIVE_MS);
  const revalidate =
    stillAuthorized &&
    setInterval(() => {
      stillAuthorized().then(
        (ok) => ok || res.destroy(),
        () => undefined, // Redis out of reach: asked again next time
      );
    }, REVALIDATE_MS);
  const stream = {
    // The response never ends by itself, so its close means the client has gone.
    closed: res.closed || res.destroyed,
    send(event: string, data: unknown) {
      if (stream.closed) return 0;
      const message = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      res.write(message);
      return Buffer.byteLength(message);
    },
    drained() {
      return stream.closed ? Promise.resolve() : drainedOrClosed(res);
    },
    onClose(fn: () => void) {
      onClosed(res, fn);
    },
  };
  onClosed(res, () => {
    stream.closed = true;
    clearInterval(watch);
    clearInterval(keepalive);
    clearInterval(revalidate);
  });
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
  // The earliest the next flush may start: a big one's bytes at the stream's rate after it began.
  let nextAt = 0;
  const schedule = () => {
    timer ??= setTimeout(
      async () => {
        const began = performance.now();
        const batch = [...keys];
        keys.clear();
        pending = false;
        const sent = await flush(batch).catch((err: Error) => {
          onError(err);
          return 0;
        });
        nextAt = began + (sent * 1000) / STREAM_BYTES_PER_SECOND;
        timer = undefined;
        if (pending && !stopped) schedule();
      },
      Math.max(ms, nextAt - performance.now()),
    );
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
    onClosed(res, () => {
      this.open--;
      const left = (this.byOwner.get(owner) ?? 1) - 1;
      if (left > 0) this.byOwner.set(owner, left);
      else this.byOwner.delete(owner);
    });
  }
}
