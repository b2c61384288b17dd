import type { Response } from 'express';
import { HttpError } from './problem.ts';

/**
 * Bytes that requests of one kind may hold in memory at once in this process, in all and per key
 * (a requester). A scene at the asset limit costs about twice its asset bytes while it is decoded
 * and parsed (0.5 GB and 2 s at the default 256 MiB), and an estimate is free: drafts past either
 * bound are refused before a byte is read — past the key's, so that one requester's parallel
 * estimates neither take the orchestrator's memory nor keep everyone else's drafts out.
 */
export class ByteBudget {
  private held = 0;
  private readonly byKey = new Map<string, number>();

  constructor(
    readonly bytes: number,
    readonly perKey: number,
  ) {}

  /** Runs `work` holding `n` bytes for `key`; without running it, which bound it would pass. */
  async hold<T>(key: string, n: number, work: () => Promise<T>): Promise<{ value: T } | { over: 'key' | 'all' }> {
    const mine = this.byKey.get(key) ?? 0;
    if (n > 0 && mine + n > this.perKey) return { over: 'key' };
    if (n > 0 && this.held + n > this.bytes) return { over: 'all' };
    this.held += n;
    this.byKey.set(key, mine + n);
    try {
      return { value: await work() };
    } finally {
      this.held -= n;
      const left = (this.byKey.get(key) ?? n) - n;
      if (left > 0) this.byKey.set(key, left);
      else this.byKey.delete(key);
    }
  }
}

/**
 * The answer to work `ByteBudget.hold` turned away: 429 past the key's bound (its own other work
 * first), 503 past the process's; `what` names the work ("uploads are being read").
 */
export function overBudget(over: 'key' | 'all', res: Response, what: string): HttpError {
  res.set('Retry-After', '1');
  if (over === 'key') return new HttpError(429, 'Too many requests', `your other ${what}; retry once they are`);
  return new HttpError(503, 'Busy', `others' ${what}; retry shortly`);
}
