/** The credibility formulas against hand-computed values. */
import { describe, expect, it } from 'vitest';
import { agreeingNeeded, groupCredibilities, threshold, workerCredibility } from '../orchestrator/credibility.ts';

describe('worker credibility', () => {
  it('is 1 − f with no record', () => {
    expect(workerCredibility(0.2, 0)).toBeCloseTo(0.8, 12);
  });
  it('follows 1 − f/((1−f)·k·e)', () => {
    // k = 10: 1 − 0.2/(0.8·10·2.718281828) = 0.990803
    expect(workerCredibility(0.2, 10)).toBeCloseTo(0.990803, 6);
    expect(workerCredibility(0.2, 920)).toBeCloseTo(1 - 0.2 / (0.8 * 920 * Math.E), 12);
  });
  it('never falls below 1 − f for small k', () => {
    expect(workerCredibility(0.2, 1)).toBeCloseTo(1 - 0.25 / Math.E, 12); // 0.908
    // f = 0.7, k = 1: the formula gives 1 − 0.7/(0.3·e) = 0.14, below the 0.3 of a stranger.
    expect(workerCredibility(0.7, 1)).toBeCloseTo(0.3, 12);
  });
});

describe('group credibility', () => {
  it('reduces to (1−f)^m / ((1−f)^m + f^m) for m agreeing fresh workers', () => {
    const [cr] = groupCredibilities([Array(7).fill(0.8)]);
    expect(cr).toBeCloseTo(0.8 ** 7 / (0.8 ** 7 + 0.2 ** 7), 12); // 0.999939
    expect(cr).toBeGreaterThanOrEqual(threshold(1e-4));
    expect(groupCredibilities([Array(6).fill(0.8)])[0]).toBeLessThan(threshold(1e-4));
  });
  it('matches the notes: two agreeing workers with 10 passed checks each', () => {
    const c = workerCredibility(0.2, 10);
    expect(groupCredibilities([[c, c]])[0]).toBeCloseTo(0.99991, 5);
  });
  it('weighs a disagreeing group against the other', () => {
    // Groups {0.8, 0.8} and {0.8}: good = .64 and .8, bad = .04 and .2.
    // CrG(0) = .64·.2 / (.64·.2 + .8·.04 + .04·.2) = .128 / .168
    const [a, b] = groupCredibilities([[0.8, 0.8], [0.8]]);
    expect(a).toBeCloseTo(0.128 / 0.168, 12);
    expect(b).toBeCloseTo(0.032 / 0.168, 12);
  });
  it('counts how many fresh agreeing results a group still needs', () => {
    expect(agreeingNeeded([[0.8]], 0, 0.2, threshold(1e-4), 20)).toBe(6);
    const proven = workerCredibility(0.2, 10);
    expect(agreeingNeeded([[proven, proven]], 0, 0.2, threshold(1e-4), 20)).toBe(0);
    expect(agreeingNeeded([[0.8]], 0, 0.2, threshold(1e-4), 3)).toBe(4);
  });
});

describe('acceptance', async () => {
  const { accept } = await import('../orchestrator/acceptance.ts');
  const base = { f: 0.2, theta: threshold(1e-4), maxReplicas: 12, outstanding: 0 };
  const fresh = (replica: string, cid: string) => ({ replica, worker: `w${replica}`, cid, credibility: 0.8 });
  it('accepts a proven worker alone', () => {
    const proven = { replica: 'a', worker: 'wa', cid: 'X', credibility: workerCredibility(0.2, 1000) };
    expect(accept({ ...base, results: [proven] })).toMatchObject({ kind: 'verified', cid: 'X', agree: ['a'] });
  });
  it('asks a newcomer for enough agreeing company at once', () => {
    expect(accept({ ...base, results: [fresh('a', 'X')] })).toMatchObject({ kind: 'undecided', issue: 6 });
    expect(accept({ ...base, results: [fresh('a', 'X')], outstanding: 4 })).toMatchObject({ kind: 'undecided', issue: 2 });
  });
  it('lets a credible group outvote a colluding pair', () => {
    const c = workerCredibility(0.2, 50);
    const honest = (n: string) => ({ replica: n, worker: `w${n}`, cid: 'X', credibility: c });
    const colluders = [fresh('bad1', 'Y'), fresh('bad2', 'Y')];
    // One credible worker against two agreeing strangers: CrG = 0.0399 / 0.0412 = 0.97 < θ.
    // It plans for the worst: five more fresh workers would be needed if no credible one came.
    expect(accept({ ...base, results: [...colluders, honest('h1')] })).toMatchObject({ kind: 'undecided', issue: 5 });
    expect(accept({ ...base, results: [...colluders, honest('h1'), honest('h2')] })).toMatchObject({
      kind: 'verified',
      cid: 'X',
      disagree: ['bad1', 'bad2'],
    });
  });
  it('gives up at the replica cap', () => {
    expect(accept({ ...base, maxReplicas: 2, results: [fresh('a', 'X'), fresh('b', 'Y')] })).toMatchObject({ kind: 'exhausted' });
  });
});
