/** The bytes drafts and the gateway's responses may hold at once (orchestrator/http/byte-budget.ts, cars-in-flight.ts). */
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { ByteBudget } from '../orchestrator/http/byte-budget.ts';
import { CarsInFlight, type LetGoRule, type Reader, slowestToLetGo } from '../orchestrator/http/cars-in-flight.ts';

describe('byte budget', () => {
  it('runs work while its bytes fit its key’s share and the whole, refuses it unrun past either, and frees them however the work ends', async () => {
    const budget = new ByteBudget(100, 60);
    let finish: () => void = () => undefined;
    const first = budget.hold('a', 60, () => new Promise<string>((resolve) => (finish = () => resolve('first'))));
    let ran = false;
    const run = async () => {
      ran = true;
    };
    // Past a's share, though the whole has room; then past the whole, though b's share has room.
    expect(await budget.hold('a', 1, run)).toEqual({ over: 'key' });
    expect(await budget.hold('b', 41, run)).toEqual({ over: 'all' });
    expect(ran).toBe(false);
    expect(await budget.hold('b', 40, async () => 'beside')).toEqual({ value: 'beside' });
    // Without assets a draft holds nothing, so nothing stops it.
    expect(await budget.hold('a', 0, async () => 'free')).toEqual({ value: 'free' });
    finish();
    expect(await first).toEqual({ value: 'first' });
    await expect(budget.hold('a', 60, async () => Promise.reject(new Error('bad scene')))).rejects.toThrow('bad scene');
    expect(await budget.hold('a', 60, async () => 'its share again')).toEqual({ value: 'its share again' });
  });
});

const held = (h: ReturnType<CarsInFlight['hold']>) => {
  if ('over' in h) throw new Error(`over: ${h.over}`);
  return h;
};

const RULE: LetGoRule = { judgeAfterMs: 3_000, leftMs: 120_000 };

describe('CARs in flight', () => {
  it('counts a blob once however many fetch it, distinct blobs in all and per key, and frees each once its last fetch is over', async () => {
    const cars = new CarsInFlight(100, 60, RULE);
    const herd = ['w1', 'w2', 'w3'].map((key) => held(cars.hold(key, 'big', 60)));
    // One CAR for all of them: the first fetch's build.
    let builds = 0;
    const build = async () => {
      builds++;
      return new Uint8Array(60);
    };
    const cars1 = await Promise.all(herd.map((h) => h.car(build)));
    expect(builds).toBe(1);
    expect(cars1.every((c) => c === cars1[0])).toBe(true);
    // Another blob: past the whole (60 held by the herd's one CAR), though its key has room.
    expect(cars.hold('w4', 'other', 41)).toEqual({ over: 'all' });
    // Past the key's share: w1 holds 60 already, though the blob is in flight.
    expect(cars.hold('w1', 'big', 1)).toEqual({ over: 'key' });
    const beside = held(cars.hold('w4', 'other', 40));
    // The herd's CAR stays held until its last fetch is over; a release twice counts once.
    herd[0].release();
    herd[0].release();
    herd[1].release();
    // A fetch arriving now is sent the CAR still in flight, not a build of its own.
    const late = held(cars.hold('w5', 'big', 60));
    expect(await late.car(build)).toBe(cars1[0]);
    expect(builds).toBe(1);
    herd[2].release();
    late.release();
    held(cars.hold('w5', 'third', 60)).release();
    beside.release();
    held(cars.hold('w1', 'fourth', 60));
    expect(cars.hold('w2', 'fifth', 41)).toEqual({ over: 'all' });
  });

  it('keeps a blob held while its build runs, though its fetch is over; a failed build is not kept', async () => {
    const cars = new CarsInFlight(100, 100, RULE);
    const gone = held(cars.hold('w1', 'slow', 80));
    let finish: (car: Uint8Array) => void = () => undefined;
    const pending = new Promise<Uint8Array>((resolve) => {
      finish = resolve;
    });
    const building = gone.car(() => pending);
    // Its client hung up mid-build: the blob is being read all the same.
    gone.release();
    expect(cars.hold('w2', 'other', 30)).toEqual({ over: 'all' });
    finish(new Uint8Array(80));
    await building;
    held(cars.hold('w2', 'other', 30)).release();
    const failing = held(cars.hold('w3', 'bad', 10));
    await expect(failing.car(() => Promise.reject(new Error('unreadable')))).rejects.toThrow('unreadable');
    expect(await failing.car(async () => new Uint8Array(10))).toHaveLength(10);
  });
});

describe('letting the slowest CARs in flight go when the whole is full', () => {
  /** The marks' timers and the clock they read, faked for this test (files may share this process). */
  const fakeClock = () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
  };
  const NOW = 100_000;
  /** A reader whose older mark is 5 s old (watched long enough), having moved `since` bytes of its `total` since. */
  const reader = (total: number, since: number, markedAt = NOW - 5_000): Reader => ({
    total,
    marks: [{ at: markedAt, moved: 10 }],
    moved: () => 10 + since,
    cutOff: () => undefined,
  });
  const blob = (bytes: number, ...readers: Reader[]) => ({ bytes, building: false, readers: new Set(readers) });

  it('lets go the blobs whose every reader watched would take long at its recent pace, the longest first, only as many as make the room', () => {
    const blobs = new Map([
      // 1 byte in 5 s, 989 left: 4,945 s.
      ['crawling', blob(40, reader(1000, 1))],
      // 50 in 5 s, 940 left: 94 s, under the 120 s that let a blob go.
      ['steady', blob(40, reader(1000, 50))],
      // Nothing since its mark, though its sockets took 10 bytes at once.
      ['stalled', blob(10, reader(1000, 0))],
      // One reader stalled, one fast: the fast one is not cut off for the other's sake.
      ['shared', blob(10, reader(1000, 0), reader(1000, 500))],
    ]);
    // Full (100 held of 100): room for 10 takes the stalled blob alone; for 50, the crawling one too.
    expect(slowestToLetGo(blobs, 10, 100, 100, NOW, RULE)).toEqual(['stalled']);
    expect(slowestToLetGo(blobs, 50, 100, 100, NOW, RULE)).toEqual(['stalled', 'crawling']);
    // Room that letting every slow blob go would not make: no one is cut off.
    expect(slowestToLetGo(blobs, 60, 100, 100, NOW, RULE)).toEqual([]);
  });

  it('judges a blob by its readers watched long enough: none watched yet, or one being built, is not judged; a newcomer does not shield it', () => {
    const unmarked = blob(50, { total: 1000, marks: [], moved: () => 10, cutOff: () => undefined });
    const young = blob(50, reader(1000, 0, NOW - 2_000));
    const building = { ...blob(50, reader(1000, 0)), building: true };
    for (const [name, one] of Object.entries({ unmarked, young, building }))
      expect(slowestToLetGo(new Map([[name, one]]), 50, 100, 100, NOW, RULE)).toEqual([]);
    // A fresh fetch every few seconds beside a reader that has read nothing.
    const shielded = blob(50, reader(1000, 0), reader(1000, 0, NOW - 1_000));
    expect(slowestToLetGo(new Map([['shielded', shielded]]), 50, 100, 100, NOW, RULE)).toEqual(['shielded']);
  });

  it('frees a slow blob for a new one at once and cuts its readers off, and a fetch of it that begins sending after; their release frees nothing twice', () => {
    fakeClock();
    const cars = new CarsInFlight(100, 100, RULE);
    const slow = held(cars.hold('w1', 'slow', 80));
    const late = held(cars.hold('w9', 'slow', 80));
    let cut = 0;
    slow.sending({ total: 80, moved: () => 0, cutOff: () => cut++ });
    // Marked after 3 s, not yet watched 3 s more: the whole is full.
    vi.advanceTimersByTime(5_000);
    expect(cars.hold('w2', 'next', 80)).toEqual({ over: 'all' });
    vi.advanceTimersByTime(1_000);
    const next = held(cars.hold('w2', 'next', 80));
    expect(cut).toBe(1);
    late.sending({ total: 80, moved: () => 0, cutOff: () => cut++ });
    expect(cut).toBe(2);
    slow.release();
    late.release();
    // The new blob's 80 are held, not freed by the slow one's release.
    expect(cars.hold('w3', 'third', 21)).toEqual({ over: 'all' });
    next.release();
    held(cars.hold('w3', 'third', 100));
  });

  it('lets go a reader that read fast and then stopped short of the end, within two marks', () => {
    fakeClock();
    const cars = new CarsInFlight(100, 100, RULE);
    const quick = held(cars.hold('w1', 'big', 80));
    // 10 bytes a second for 7 s, then nothing, 10 short of its 80.
    const started = performance.now();
    quick.sending({ total: 80, moved: () => Math.min(70, Math.floor((performance.now() - started) / 100)), cutOff: () => undefined });
    vi.advanceTimersByTime(7_000);
    expect(cars.hold('w2', 'other', 80)).toEqual({ over: 'all' });
    vi.advanceTimersByTime(6_000);
    held(cars.hold('w2', 'other', 80));
  });
});
