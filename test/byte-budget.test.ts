/** The bytes drafts may hold at once (orchestrator/http/byte-budget.ts). */
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../orchestrator/http/byte-budget.ts';

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
