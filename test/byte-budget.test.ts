/** The bytes drafts and the gateway's responses may hold at once (orchestrator/http/byte-budget.ts, cars-in-flight.ts). */
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../orchestrator/http/byte-budget.ts';
import { CarsInFlight } from '../orchestrator/http/cars-in-flight.ts';

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

describe('CARs in flight', () => {
  const held = (h: ReturnType<CarsInFlight['hold']>) => {
    if ('over' in h) throw new Error(`over: ${h.over}`);
    return h;
  };

  it('counts a blob once however many fetch it, distinct blobs in all and per key, and frees each once its last fetch is over', async () => {
    const cars = new CarsInFlight(100, 60);
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
    const cars = new CarsInFlight(100, 100);
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
