/** The dispatcher's shared reads of the market: at most once a while, afresh when a new period (a forward window) begins. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readAtMostEvery } from '../orchestrator/read-cache.ts';

describe('readAtMostEvery', () => {
  beforeEach(() => vi.useFakeTimers({ now: 10_000 }));
  afterEach(() => vi.useRealTimers());

  it('reads once a while, afresh the moment a new period begins, and keeps no failed read', async () => {
    let reads = 0;
    let fail = false;
    const read = readAtMostEvery(
      100,
      async (now) => {
        reads++;
        if (fail) throw new Error('down');
        return now;
      },
      -1,
      (now) => Math.floor(now / 1000),
    );
    expect(await read()).toBe(10_000);
    vi.setSystemTime(10_099);
    expect(await read()).toBe(10_000);
    expect(reads).toBe(1);
    // Still within the age, but the window delivering changed at 11,000.
    vi.setSystemTime(10_990);
    await read();
    vi.setSystemTime(11_000);
    expect(await read()).toBe(11_000);
    expect(reads).toBe(3);
    fail = true;
    vi.setSystemTime(11_200);
    expect(await read()).toBe(-1);
    fail = false;
    expect(await read()).toBe(11_200);
    expect(reads).toBe(5);
  });
});
