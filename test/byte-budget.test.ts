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
  it('counts a blob once however many fetch it, distinct blobs in all and per key, and frees each once its last fetch is over', () => {
    const cars = new CarsInFlight(100, 60);
    const herd = ['w1', 'w2', 'w3'].map((key) => cars.hold(key, 'big', 60));
    expect(herd.every((h) => 'release' in h)).toBe(true);
    // Another blob: past the whole (60 held by the herd's one CAR), though its key has room.
    expect(cars.hold('w4', 'other', 41)).toEqual({ over: 'all' });
    // Past the key's share: w1 holds 60 already, though the blob is in flight.
    expect(cars.hold('w1', 'big', 1)).toEqual({ over: 'key' });
    const beside = cars.hold('w4', 'other', 40);
    expect('release' in beside).toBe(true);
    const release = (h: ReturnType<CarsInFlight['hold']>) => 'release' in h && h.release();
    // The herd's CAR stays held until its last fetch is over; a release twice counts once.
    release(herd[0]);
    release(herd[0]);
    release(herd[1]);
    expect(cars.hold('w5', 'third', 1)).toEqual({ over: 'all' });
    release(herd[2]);
    expect('release' in cars.hold('w5', 'third', 60)).toBe(true);
    release(beside);
    expect('release' in cars.hold('w1', 'fourth', 40)).toBe(true);
  });
});
