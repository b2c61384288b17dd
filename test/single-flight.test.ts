/** Work shared by its callers (orchestrator/single-flight.ts): once a period. */
import { describe, expect, it } from 'vitest';
import { sharedFor } from '../orchestrator/single-flight.ts';

describe('sharedFor', () => {
  it('computes at most once a period; a failure is not kept', async () => {
    let runs = 0;
    let fail = false;
    const answer = sharedFor(100, async () => {
      runs++;
      if (fail) throw new Error('down');
      return runs;
    });
    expect(await Promise.all([answer(), answer()])).toEqual([1, 1]);
    expect(await answer()).toBe(1);
    await new Promise((r) => setTimeout(r, 120));
    fail = true;
    await expect(answer()).rejects.toThrow('down');
    fail = false;
    expect(await answer()).toBe(3);
  });

  it('shares a computation slower than its period while it runs', async () => {
    let runs = 0;
    const answer = sharedFor(20, async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 150));
      return runs;
    });
    const first = answer();
    await new Promise((r) => setTimeout(r, 60));
    expect(await Promise.all([first, answer()])).toEqual([1, 1]);
    expect(runs).toBe(1);
  });
});
