/** The bytes drafts may hold at once (orchestrator/http/byte-budget.ts). */
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../orchestrator/http/byte-budget.ts';

describe('byte budget', () => {
  it('runs work while its bytes fit beside the work under way, refuses it unrun past them, and frees them however the work ends', async () => {
    const budget = new ByteBudget(100);
    let finish: () => void = () => undefined;
    const first = budget.hold(60, () => new Promise<string>((resolve) => (finish = () => resolve('first'))));
    let ran = false;
    expect(
      await budget.hold(41, async () => {
        ran = true;
      }),
    ).toBeUndefined();
    expect(ran).toBe(false);
    expect(await budget.hold(40, async () => 'beside')).toEqual({ value: 'beside' });
    // Without assets a draft holds nothing, so nothing stops it.
    expect(await budget.hold(0, async () => 'free')).toEqual({ value: 'free' });
    finish();
    expect(await first).toEqual({ value: 'first' });
    await expect(budget.hold(100, async () => Promise.reject(new Error('bad scene')))).rejects.toThrow('bad scene');
    expect(await budget.hold(100, async () => 'all of it')).toEqual({ value: 'all of it' });
  });
});
