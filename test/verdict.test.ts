/**
 * Unit tests of the pure verification core, with no Redis, HTTP or processes: Sarmenta
 * credibility (verdict/credibility.ts), the quorum tally (verdict/quorum.ts), the verdict on one
 * tile (verdict/decide.ts), the published pixel tolerance (verdict/tolerance.ts), measured
 * determinism classes (classes.ts) and dispatch's pure helpers spotCheckChance, checkPrice and shareCap.
 * Example tests pin each branch of `decide`; property tests pin the rules that keep it safe against
 * anonymous keys (only anchored verdicts judge anyone, unchecked workers weigh nothing).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify, fingerprint, type KnownClass } from '../orchestrator/classes.ts';
import { checkPrice, shareCap, spotCheckChance } from '../orchestrator/dispatch.ts';
import {
  agreeingNeeded,
  groupCredibilities,
  NO_EVIDENCE,
  TRUSTED_CREDIBILITY,
  threshold,
  workerCredibility,
} from '../orchestrator/verdict/credibility.ts';
import {
  AUDIT_SCALE,
  type Availability,
  type Decision,
  decide,
  MAX_PARALLEL,
  type Policy,
  type ResultFact,
  type TaskFacts,
} from '../orchestrator/verdict/decide.ts';
import { quorumWinner, tally, type Vote } from '../orchestrator/verdict/quorum.ts';
import { DEFAULT_TOLERANCE, nearlyEqual, type Tolerance } from '../orchestrator/verdict/tolerance.ts';
import { TOO_COSTLY } from '../shared/render-units.ts';

const F = 0.2;
const THETA = threshold(1e-4);
const NOW = 1_000_000;
const GRACE = 30_000;
/** Checks passed by a worker two of which, agreeing, reach θ at f = 0.2, but one alone does not. */
const PROVEN = 20;
/** Checks passed by a worker whose result alone reaches θ at f = 0.2 (k ≥ 920). */
const LONE = 1000;

type FactsOverrides = Partial<Omit<TaskFacts, 'policy'>> & { policy?: Partial<Policy> };

function facts(overrides: FactsOverrides = {}): TaskFacts {
  const { policy, ...rest } = overrides;
  return {
    policy: {
      verification: 'credibility',
      theta: THETA,
      f: F,
      replicas: 2,
      maxReplicas: 16,
      onTimeout: 'accept',
      renderAttempts: 3,
      ...policy,
    },
    state: 'pending',
    verdict: null,
    issued: 1,
    outstanding: 0,
    held: 0,
    results: [],
    suspect: false,
    arbiterIssued: false,
    arbiterUnheld: false,
    audited: false,
    auditRoll: 0.99,
    knownAnswersShort: false,
    recheck: false,
    now: NOW,
    progressAt: NOW,
    graceMs: GRACE,
    deadlineAt: Number.POSITIVE_INFINITY,
    reopenable: true,
    classed: true,
    attempts: 0,
    trustedError: null,
    ...rest,
  };
}

/** An untrusted worker's result; k is the checks against ground truth it has passed. */
function untrusted(slot: number, cid: string, k = 0, extra: Partial<ResultFact> = {}): ResultFact {
  return {
    slot,
    worker: `u${slot}`,
    cid,
    settled: false,
    credibility: workerCredibility(F, k),
    trusted: false,
    passed: k,
    faults: 0,
    ...extra,
  };
}

function trusted(slot: number, cid: string, extra: Partial<ResultFact> = {}): ResultFact {
  return { slot, worker: `t${slot}`, cid, settled: false, credibility: TRUSTED_CREDIBILITY, trusted: true, passed: 0, faults: 0, ...extra };
}

const nobody: Availability = { trusted: 0, eligible: 0 };

/** Asserts the decision's kind and narrows it, so a test reads its fields with their types. */
function as<K extends Decision['kind']>(decision: Decision, kind: K): Extract<Decision, { kind: K }> {
  expect(decision.kind).toBe(kind);
  return decision as Extract<Decision, { kind: K }>;
}

describe('workerCredibility', () => {
  it('gives a worker with no check passed exactly NO_EVIDENCE, whatever f', () => {
    expect(NO_EVIDENCE).toBe(0.5);
    expect(workerCredibility(0.2, 0)).toBe(NO_EVIDENCE);
    expect(workerCredibility(0.7, 0)).toBe(NO_EVIDENCE);
    expect(workerCredibility(0.01, -3)).toBe(NO_EVIDENCE);
  });

  it('follows 1 − f/((1−f)·k·e)', () => {
    // k = 10: 1 − 0.2/(0.8·10·2.718281828) = 0.990803
    expect(workerCredibility(0.2, 10)).toBeCloseTo(0.990803, 6);
    expect(workerCredibility(0.2, 920)).toBeCloseTo(1 - 0.2 / (0.8 * 920 * Math.E), 12);
    expect(workerCredibility(0.2, 1)).toBeCloseTo(1 - 0.25 / Math.E, 12); // 0.908
  });

  it('is floored at NO_EVIDENCE where the formula falls below it', () => {
    // f = 0.7, k = 1: the formula gives 1 − 0.7/(0.3·e) = 0.14.
    expect(workerCredibility(0.7, 1)).toBe(NO_EVIDENCE);
  });

  it('lets a lone result reach θ = 1 − 1e-4 from k = 920 on, at f = 0.2', () => {
    expect(workerCredibility(F, 919)).toBeLessThan(THETA);
    expect(workerCredibility(F, 920)).toBeGreaterThanOrEqual(THETA);
  });

  it('grows with k and stays in [NO_EVIDENCE, 1)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.01, max: 0.9, noNaN: true }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        (f, a, b) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          expect(workerCredibility(f, lo)).toBeLessThanOrEqual(workerCredibility(f, hi));
          expect(workerCredibility(f, lo)).toBeGreaterThanOrEqual(NO_EVIDENCE);
          expect(workerCredibility(f, hi)).toBeLessThan(1);
        },
      ),
    );
  });

  it('rests the fixtures of these tests on what they claim', () => {
    const proven = workerCredibility(F, PROVEN);
    expect(proven).toBeLessThan(THETA);
    expect(groupCredibilities([[proven, proven]])[0]).toBeGreaterThanOrEqual(THETA);
    expect(workerCredibility(F, LONE)).toBeGreaterThanOrEqual(THETA);
  });
});

describe('groupCredibilities', () => {
  it('reduces to c^m / (c^m + (1−c)^m) for m agreeing workers of credibility c', () => {
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

  it('gives a lone worker its own credibility', () => {
    expect(groupCredibilities([[0.9]])[0]).toBeCloseTo(0.9, 12);
  });

  it("lets a trusted worker's result stand alone at ε down to 1e-12", () => {
    for (const epsilon of [0.5, 1e-2, 1e-4, 1e-8, 1e-12]) {
      expect(groupCredibilities([[TRUSTED_CREDIBILITY]])[0]).toBeGreaterThanOrEqual(threshold(epsilon));
    }
  });

  it('holds any number of agreeing unchecked workers at exactly 1/2', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (n) => {
        expect(groupCredibilities([Array(n).fill(NO_EVIDENCE)])[0]).toBe(0.5);
      }),
    );
  });

  const credibility = fc.double({ min: 0.5, max: 0.9999, noNaN: true });
  const groups = fc.array(fc.array(credibility, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 5 });

  it('sums to at most 1, each group in [0, 1]', () => {
    fc.assert(
      fc.property(groups, (gs) => {
        const cr = groupCredibilities(gs);
        expect(cr).toHaveLength(gs.length);
        for (const c of cr) {
          expect(c).toBeGreaterThanOrEqual(0);
          expect(c).toBeLessThanOrEqual(1);
        }
        expect(cr.reduce((s, c) => s + c, 0)).toBeLessThanOrEqual(1 + 1e-12);
      }),
    );
  });

  it('is symmetric under a permutation of the groups', () => {
    const permuted = groups.chain((gs) =>
      fc.tuple(
        fc.constant(gs),
        fc.shuffledSubarray(
          gs.map((_, i) => i),
          { minLength: gs.length, maxLength: gs.length },
        ),
      ),
    );
    fc.assert(
      fc.property(permuted, ([gs, order]) => {
        const cr = groupCredibilities(gs);
        const shuffled = groupCredibilities(order.map((i) => gs[i]));
        order.forEach((from, to) => {
          expect(shuffled[to]).toBeCloseTo(cr[from], 12);
        });
      }),
    );
  });

  it('is unchanged when an unchecked worker joins any group', () => {
    fc.assert(
      fc.property(groups, fc.nat(), (gs, pick) => {
        const into = pick % gs.length;
        const before = groupCredibilities(gs);
        const after = groupCredibilities(gs.map((g, i) => (i === into ? [...g, NO_EVIDENCE] : g)));
        after.forEach((c, i) => {
          expect(c).toBeCloseTo(before[i], 12);
        });
      }),
    );
  });
});

describe('agreeingNeeded', () => {
  it('counts how many more agreeing results of the assumed credibility the leader needs', () => {
    expect(agreeingNeeded([[0.8]], 0, 0.8, threshold(1e-4), 20)).toBe(6);
    const proven = workerCredibility(0.2, 10);
    expect(agreeingNeeded([[proven, proven]], 0, 0.8, threshold(1e-4), 20)).toBe(0);
  });

  it('returns cap + 1 when even the cap is not enough', () => {
    expect(agreeingNeeded([[0.8]], 0, 0.8, threshold(1e-4), 3)).toBe(4);
    // Unchecked workers never lift a group: no number of them is enough.
    expect(agreeingNeeded([[NO_EVIDENCE]], 0, NO_EVIDENCE, THETA, 16)).toBe(17);
  });

  it('returns the least number that reaches θ', () => {
    const credibility = fc.double({ min: 0.5, max: 0.999, noNaN: true });
    fc.assert(
      fc.property(
        fc.array(fc.array(credibility, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 }),
        fc.double({ min: 0.6, max: 0.999, noNaN: true }),
        (gs, assumed) => {
          const grow = (more: number) => groupCredibilities(gs.map((g, i) => (i === 0 ? [...g, ...Array(more).fill(assumed)] : g)))[0];
          const needed = agreeingNeeded(gs, 0, assumed, THETA, 20);
          if (needed <= 20) expect(grow(needed)).toBeGreaterThanOrEqual(THETA);
          if (needed > 0) expect(grow(needed - 1)).toBeLessThan(THETA);
        },
      ),
    );
  });
});

describe('threshold', () => {
  it('is 1 − ε', () => {
    expect(threshold(1e-4)).toBe(1 - 1e-4);
    expect(threshold(0.05)).toBe(0.95);
  });
});

describe('quorum tally', () => {
  const votes = (...cids: string[]): Vote[] => cids.map((cid, slot) => ({ slot, cid }));

  it('has no leader without votes', () => {
    expect(tally([])).toBeUndefined();
    expect(quorumWinner([], 1)).toBeUndefined();
  });

  it('counts the leader and the runner-up', () => {
    expect(tally(votes('b', 'a', 'b', 'c'))).toEqual({ cid: 'b', votes: 2, next: 1 });
    expect(tally(votes('a', 'a'))).toEqual({ cid: 'a', votes: 2, next: 0 });
  });

  it('breaks ties towards the smaller CID, whatever the order of the votes', () => {
    expect(tally(votes('b', 'a'))?.cid).toBe('a');
    expect(tally(votes('a', 'b'))?.cid).toBe('a');
  });

  it('verifies when the first R agree', () => {
    expect(quorumWinner(votes('x', 'x'), 2)).toBe('x');
    expect(quorumWinner(votes('x'), 1)).toBe('x');
    expect(quorumWinner(votes('x'), 2)).toBeUndefined();
  });

  it('after a disagreement wants a strict majority of at least two', () => {
    expect(quorumWinner(votes('x', 'y'), 2)).toBeUndefined();
    expect(quorumWinner(votes('x', 'y'), 1)).toBeUndefined();
    expect(quorumWinner(votes('x', 'y', 'x'), 2)).toBe('x');
    expect(quorumWinner(votes('x', 'y', 'x', 'y'), 2)).toBeUndefined();
    expect(quorumWinner(votes('x', 'y', 'z', 'x'), 2)).toBeUndefined();
  });

  it('names a winner only with unanimity or a strict majority, independent of vote order', () => {
    const ballot = fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 8 });
    fc.assert(
      fc.property(ballot, fc.integer({ min: 1, max: 4 }), (cids, replicas) => {
        const winner = quorumWinner(votes(...cids), replicas);
        expect(quorumWinner(votes(...[...cids].reverse()), replicas)).toBe(winner);
        if (winner === undefined) return;
        const count = cids.filter((c) => c === winner).length;
        expect(cids.length).toBeGreaterThanOrEqual(replicas);
        expect(count === cids.length || (count >= 2 && count * 2 > cids.length)).toBe(true);
      }),
    );
  });
});

describe('decide: credibility scheme', () => {
  describe('before any result', () => {
    it('issues one replica when none is out', () => {
      expect(decide(facts({ issued: 0 }))).toEqual({
        kind: 'issue',
        count: 1,
        arbiter: false,
        audit: false,
        stock: false,
        waiting: { code: 'rendering', message: expect.any(String), since: NOW, decideAt: null },
      });
    });

    it('waits without a wake-up while workers hold the replicas out', () => {
      const d = as(decide(facts({ outstanding: 2, held: 2 })), 'wait');
      expect(d.idleAt).toBeNull();
      expect(d.waiting.code).toBe('rendering');
    });

    it('never decides a starved tile that has nothing to decide with', () => {
      const d = as(decide(facts({ outstanding: 1, held: 0, progressAt: NOW - 10 * GRACE, availability: nobody })), 'wait');
      expect(d.idleAt).toBeNull();
      expect(d.waiting).toMatchObject({ code: 'no-eligible-worker', decideAt: null });
    });
  });

  describe('at θ', () => {
    it("accepts a trusted worker's lone result as anchored, without asking who is online", () => {
      const d = as(decide(facts({ results: [trusted(0, 'X')] })), 'accept');
      expect(d).toMatchObject({
        cid: 'X',
        below: false,
        anchored: true,
        faulty: true,
        agree: [0],
        disagree: [],
        checked: [],
        auditSkipped: false,
      });
      expect(d.basis).toEqual({ t0: 0 });
      expect(d.credibility).toBeGreaterThanOrEqual(THETA);
    });

    it('judges everyone against an anchored verdict: agreeing untrusted results are checks, disagreeing ones faults', () => {
      const results = [untrusted(0, 'X'), trusted(1, 'X'), untrusted(2, 'Y', PROVEN, { faults: 1 }), untrusted(3, 'X', 5)];
      const d = as(decide(facts({ results, issued: 4 })), 'accept');
      expect(d).toMatchObject({ cid: 'X', anchored: true, faulty: true, agree: [0, 1, 3], disagree: [2], checked: [0, 3] });
      expect(d.basis).toEqual({ u0: 0, t1: 0, u2: 1, u3: 0 });
    });

    it('accepts two agreeing credible untrusted results unanchored: no checks, no faults', () => {
      const results = [untrusted(0, 'X', PROVEN), untrusted(1, 'X', PROVEN)];
      const d = as(decide(facts({ results, issued: 2 })), 'accept');
      expect(d).toMatchObject({ cid: 'X', below: false, anchored: false, faulty: false, checked: [], agree: [0, 1], disagree: [] });
      expect(d.credibility).toBeGreaterThanOrEqual(THETA);
    });

    describe('a dispute between checked workers', () => {
      // Two proven workers against one with a single check: the proven group reaches θ, but the
      // dissent is a checked worker's, so someone who passed checks lied.
      const results = [untrusted(0, 'X', PROVEN), untrusted(1, 'X', PROVEN), untrusted(2, 'Y', 1)];
      const disputed = (overrides: FactsOverrides = {}) => facts({ results, issued: 3, ...overrides });

      it('needs to know who is online', () => {
        expect(decide(disputed())).toEqual({ kind: 'needs-availability' });
      });

      it('goes to a trusted worker for arbitration when one is online', () => {
        const d = as(decide(disputed({ availability: { trusted: 1, eligible: 3 } })), 'issue');
        expect(d).toMatchObject({ count: 1, arbiter: true, waiting: { code: 'needs-arbiter', since: NOW, decideAt: null } });
      });

      it('waits for the arbiter once it has been issued', () => {
        const d = as(decide(disputed({ arbiterIssued: true, outstanding: 1, held: 1, availability: { trusted: 1, eligible: 3 } })), 'wait');
        expect(d.waiting.code).toBe('needs-arbiter');
        expect(d.idleAt).toBe(NOW + GRACE);
      });

      it('with no trusted worker online, waits the grace, then takes the most-checked result below θ, judging nobody', () => {
        const waiting = as(decide(disputed({ availability: { trusted: 0, eligible: 3 } })), 'wait');
        expect(waiting).toMatchObject({ idleAt: NOW + GRACE, waiting: { code: 'needs-arbiter', decideAt: NOW + GRACE } });
        const d = as(decide(disputed({ progressAt: NOW - GRACE, availability: { trusted: 0, eligible: 3 } })), 'accept');
        expect(d).toMatchObject({ cid: 'X', below: true, anchored: false, faulty: false, checked: [], agree: [0, 1], disagree: [2] });
      });

      it('is never won by numbers: many barely checked keys lose to one better checked worker', () => {
        const keys = Array.from({ length: 12 }, (_, i) => untrusted(i, 'Y', 1));
        const d = as(decide(facts({ results: [...keys, untrusted(12, 'X', 7)], issued: 13, deadlineAt: NOW })), 'accept');
        expect(d).toMatchObject({ cid: 'X', below: true, faulty: false, agree: [12] });
      });

      it('is decided below θ without arbitration once the job has timed out', () => {
        const d = as(decide(disputed({ deadlineAt: NOW })), 'accept');
        expect(d).toMatchObject({ cid: 'X', below: true, anchored: false, faulty: false, disagree: [2] });
      });
    });

    it('takes an unchecked dissent as no dispute when no trusted worker is online', () => {
      const results = [untrusted(0, 'X', PROVEN), untrusted(1, 'X', PROVEN), untrusted(2, 'Y')];
      const d = as(decide(facts({ results, issued: 3, availability: { trusted: 0, eligible: 3 } })), 'accept');
      expect(d).toMatchObject({ cid: 'X', below: false, anchored: false, faulty: false, disagree: [2] });
    });

    it('sends a suspect tile to arbitration even when its results agree', () => {
      const results = [untrusted(0, 'X', PROVEN, { settled: true }), untrusted(1, 'X', PROVEN, { settled: true })];
      const d = as(decide(facts({ results, issued: 2, suspect: true, availability: { trusted: 1, eligible: 1 } })), 'issue');
      expect(d).toMatchObject({ count: 1, arbiter: true });
    });

    it('lets a credible pair outvote a pair of unchecked keys', () => {
      const honest = workerCredibility(F, 50);
      const results = [untrusted(0, 'Y'), untrusted(1, 'Y'), untrusted(2, 'X', 50)];
      // One credible worker against two keys: CrG = c/(c + 2(1 − c)) = 0.9963 < θ.
      expect(groupCredibilities([[0.5, 0.5], [honest]])[1]).toBeLessThan(THETA);
      expect(decide(facts({ results, issued: 3, availability: { trusted: 0, eligible: 4 } })).kind).toBe('issue');
      const d = as(decide(facts({ results: [...results, untrusted(3, 'X', 50)], issued: 4, availability: nobody })), 'accept');
      expect(d).toMatchObject({ cid: 'X', below: false, anchored: false, faulty: false, agree: [2, 3], disagree: [0, 1] });
    });
  });

  describe('audit of a lone credible result', () => {
    // Audited with probability AUDIT_SCALE/k: k = 1000, so a roll under 0.003 audits.
    const lone = [untrusted(0, 'X', LONE)];
    const audited = (overrides: FactsOverrides = {}) => facts({ results: lone, auditRoll: 0.0005, ...overrides });

    it('is skipped when the roll is at least AUDIT_SCALE/k, without asking who is online', () => {
      const d = as(decide(facts({ results: lone, auditRoll: AUDIT_SCALE / LONE })), 'accept');
      expect(d).toMatchObject({ cid: 'X', anchored: false, faulty: false, checked: [], auditSkipped: false });
    });

    it('needs to know who is online', () => {
      expect(decide(audited())).toEqual({ kind: 'needs-availability' });
    });

    it('goes to a trusted worker when one is online', () => {
      const d = as(decide(audited({ availability: { trusted: 1, eligible: 4 } })), 'issue');
      expect(d).toMatchObject({ count: 1, arbiter: true, waiting: { code: 'audit' } });
    });

    it("goes to the class's queue when only untrusted workers are eligible", () => {
      const d = as(decide(audited({ availability: { trusted: 0, eligible: 4 } })), 'issue');
      expect(d).toMatchObject({ count: 1, arbiter: false, waiting: { code: 'audit' } });
    });

    it('is skipped, and says so, when nobody could take it', () => {
      const d = as(decide(audited({ availability: nobody })), 'accept');
      expect(d).toMatchObject({ cid: 'X', anchored: false, faulty: false, checked: [], auditSkipped: true });
    });

    it('waits while a worker holds the audit replica', () => {
      const d = as(decide(audited({ issued: 2, outstanding: 1, held: 1 })), 'wait');
      expect(d).toMatchObject({ idleAt: null, waiting: { code: 'audit' } });
    });

    it('is skipped after the grace when only trusted workers may take it and none is online', () => {
      const waiting = audited({
        issued: 2,
        outstanding: 1,
        held: 0,
        audited: true,
        arbiterIssued: true,
        arbiterUnheld: true,
        availability: { trusted: 0, eligible: 4 },
      });
      const d = as(decide(waiting), 'wait');
      expect(d).toMatchObject({ idleAt: NOW + GRACE, waiting: { code: 'no-eligible-worker' } });
      expect(d.waiting.message).toMatch(/no trusted worker is online/);
      expect(as(decide({ ...waiting, progressAt: NOW - GRACE }), 'accept')).toMatchObject({ cid: 'X', auditSkipped: true });
    });

    it('waits only for the replicas workers hold when an arbiter slot is stranded', () => {
      const d = as(
        decide(
          audited({
            issued: 3,
            outstanding: 2,
            held: 1,
            audited: true,
            arbiterIssued: true,
            arbiterUnheld: true,
            availability: { trusted: 0, eligible: 4 },
          }),
        ),
        'wait',
      );
      expect(d.idleAt).toBeNull();
    });

    it('is skipped once the audit replica has been starved past the grace', () => {
      const starved = audited({ issued: 2, outstanding: 1, held: 0, progressAt: NOW - GRACE, availability: nobody });
      expect(as(decide(starved), 'accept')).toMatchObject({ cid: 'X', auditSkipped: true, faulty: false });
    });

    it('is not started once the job has timed out', () => {
      expect(as(decide(audited({ deadlineAt: NOW })), 'accept')).toMatchObject({ auditSkipped: false, below: false });
    });
  });

  describe('stocking known answers', () => {
    // The roll (0.99) does not audit; the class is short of known answers.
    const lone = [untrusted(0, 'X', LONE)];
    const short = (overrides: FactsOverrides = {}) => facts({ results: lone, knownAnswersShort: true, ...overrides });

    it('asks who is online', () => {
      expect(decide(short())).toEqual({ kind: 'needs-availability' });
    });

    it('has a trusted worker online audit the verdict, which its agreement anchors', () => {
      const d = as(decide(short({ availability: { trusted: 1, eligible: 4 } })), 'issue');
      expect(d).toMatchObject({ count: 1, arbiter: true, audit: true, stock: true, waiting: { code: 'audit' } });
      const answered = short({ results: [...lone, trusted(1, 'X')], issued: 2, audited: true });
      expect(as(decide(answered), 'accept')).toMatchObject({ cid: 'X', anchored: true, checked: [0] });
    });

    it('accepts at once without a trusted worker: an untrusted audit would add no known answer', () => {
      const d = as(decide(short({ availability: { trusted: 0, eligible: 4 } })), 'accept');
      expect(d).toMatchObject({ cid: 'X', anchored: false, auditSkipped: false });
    });

    it('waits for the audit in flight, and starts none after the timeout or a second time', () => {
      expect(as(decide(short({ audited: true, issued: 2, outstanding: 1, held: 1 })), 'wait').waiting.code).toBe('audit');
      expect(as(decide(short({ deadlineAt: NOW })), 'accept').anchored).toBe(false);
      expect(as(decide(short({ audited: true, issued: 2 })), 'accept').auditSkipped).toBe(false);
    });

    it('leaves anchored verdicts alone', () => {
      const d = as(decide(short({ results: [...lone, trusted(1, 'X')] })), 'accept');
      expect(d).toMatchObject({ anchored: true });
    });
  });

  describe('below θ', () => {
    const fresh = [untrusted(0, 'X')];

    it('waits without a wake-up while workers hold every replica out', () => {
      const d = as(decide(facts({ results: fresh, issued: 2, outstanding: 1, held: 1 })), 'wait');
      expect(d.idleAt).toBeNull();
      expect(d.waiting).toMatchObject({ code: 'needs-agreement', decideAt: null, since: NOW });
    });

    it('needs to know who is online when a replica waits in a queue', () => {
      expect(decide(facts({ results: fresh, issued: 2, outstanding: 1, held: 0 }))).toEqual({ kind: 'needs-availability' });
    });

    it('looks again after the grace while an eligible worker could take a queued replica', () => {
      const d = as(
        decide(facts({ results: fresh, issued: 3, outstanding: 2, held: 1, availability: { trusted: 0, eligible: 2 } })),
        'wait',
      );
      expect(d.idleAt).toBe(NOW + GRACE);
      expect(d.waiting.code).toBe('needs-agreement');
    });

    describe('starved (replicas queued, no eligible worker)', () => {
      const since = NOW - 10_000;
      const starved = (overrides: FactsOverrides = {}) =>
        facts({ results: fresh, issued: 2, outstanding: 1, held: 0, progressAt: since, availability: nobody, ...overrides });

      it('waits out the grace, saying when it will decide', () => {
        const d = as(decide(starved()), 'wait');
        expect(d.idleAt).toBe(since + GRACE);
        expect(d.waiting).toMatchObject({ code: 'no-eligible-worker', since, decideAt: since + GRACE });
      });

      it('after the grace accepts what it has below θ, judging nobody', () => {
        const d = as(decide(starved({ now: since + GRACE })), 'accept');
        expect(d).toMatchObject({ cid: 'X', below: true, anchored: false, faulty: false, checked: [], agree: [0], credibility: 0 });
      });

      it("after the grace fails the tile under onTimeout: 'fail'", () => {
        const d = as(decide(starved({ now: since + GRACE, policy: { onTimeout: 'fail' } })), 'fail');
        expect(d.message).toContain('θ');
      });

      describe('while another class has a trusted worker online', () => {
        const elsewhere = { ...nobody, elsewhere: 1 };

        it('after the grace opens the tile to the other classes, under either policy, and under quorum', () => {
          expect(decide(starved({ availability: elsewhere })).kind).toBe('wait');
          for (const policy of [{}, { onTimeout: 'fail' as const }, { verification: 'quorum' as const }])
            expect(decide(starved({ now: since + GRACE, availability: elsewhere, policy })).kind).toBe('reclass');
          // With nothing queued either: nobody of its class could take one more.
          expect(decide(facts({ results: fresh, progressAt: NOW - GRACE, availability: elsewhere })).kind).toBe('reclass');
        });

        it('waits for a worker of its class that holds a replica, a grace at a time, rather than decide it below θ', () => {
          const d = as(decide(starved({ now: since + GRACE, availability: elsewhere, outstanding: 2, held: 1 })), 'wait');
          expect(d.idleAt).toBe(since + 2 * GRACE);
        });

        it('keeps a classless, reopened or arbitrated tile, or one with a trusted or accepted result, as it decides it now', () => {
          const now = since + GRACE;
          for (const overrides of [
            { classed: false },
            { suspect: true },
            { arbiterIssued: true },
            { results: [untrusted(0, 'X', 0, { settled: true })] },
          ])
            expect(decide(starved({ now, availability: elsewhere, ...overrides })).kind).not.toBe('reclass');
          const anchored = starved({ now, availability: elsewhere, results: [trusted(0, 'X')] });
          expect(as(decide(anchored), 'accept').anchored).toBe(true);
          // A result at θ whose audit nobody can take stands, unaudited (it had been set aside: a review).
          const atTheta = starved({ now, availability: elsewhere, results: [untrusted(0, 'X', LONE)], audited: true });
          expect(as(decide(atTheta), 'accept')).toMatchObject({ cid: 'X', below: false, auditSkipped: true });
        });
      });
    });

    describe('job timeout', () => {
      it('accepts what it has below θ without waiting for held replicas or asking who is online', () => {
        const results = [untrusted(0, 'X', PROVEN), untrusted(1, 'Y')];
        const d = as(decide(facts({ results, issued: 3, outstanding: 1, held: 1, deadlineAt: NOW })), 'accept');
        expect(d).toMatchObject({ cid: 'X', below: true, anchored: false, faulty: false, checked: [], agree: [0], disagree: [1] });
        expect(d.credibility).toBeLessThan(THETA);
      });

      it("fails under onTimeout: 'fail'", () => {
        expect(decide(facts({ results: fresh, deadlineAt: NOW - 1, policy: { onTimeout: 'fail' } })).kind).toBe('fail');
      });

      it('counts from the deadline itself', () => {
        expect(as(decide(facts({ results: fresh, deadlineAt: NOW })), 'accept').below).toBe(true);
        expect(decide(facts({ results: fresh, deadlineAt: NOW + 1 })).kind).toBe('needs-availability');
      });
    });

    describe('issuing replicas', () => {
      const anyone = { trusted: 0, eligible: 5 };

      it('asks for at most MAX_PARALLEL at once, saying how many it needs in all', () => {
        // An unchecked result needs 7 agreeing results of the prior 1 − f: 1/(1 + 0.25^7) ≥ θ.
        const d = as(decide(facts({ results: fresh, availability: anyone })), 'issue');
        expect(d).toMatchObject({ count: MAX_PARALLEL, arbiter: false, waiting: { code: 'needs-agreement' } });
        expect(d.waiting.message).toBe('needs 7 more agreeing results from independent workers');
      });

      it("asks a proven worker's tile for one more, not three", () => {
        const d = as(decide(facts({ results: [untrusted(0, 'X', PROVEN)], availability: anyone })), 'issue');
        expect(d.count).toBe(1);
        expect(d.waiting.message).toBe('needs 1 more agreeing result from independent workers');
      });

      it('stays within maxReplicas', () => {
        expect(as(decide(facts({ results: fresh, issued: 15, availability: anyone })), 'issue').count).toBe(1);
      });

      it('accepts below θ once maxReplicas are spent, or, nobody else of its class online, opens the tile to another class with a trusted worker online', () => {
        expect(decide(facts({ results: fresh, issued: 16 })).kind).toBe('needs-availability');
        const d = as(decide(facts({ results: fresh, issued: 16, availability: nobody })), 'accept');
        expect(d).toMatchObject({ below: true, faulty: false, checked: [] });
        expect(decide(facts({ results: fresh, issued: 16, availability: { ...nobody, elsewhere: 1 } })).kind).toBe('reclass');
        // Others of its class online (honest keys too new to weigh spend it too): it stands below θ.
        expect(
          as(decide(facts({ results: fresh, issued: 16, availability: { trusted: 0, eligible: 3, elsewhere: 1 } })), 'accept').below,
        ).toBe(true);
        const quorum = { verification: 'quorum' as const, replicas: 3, maxReplicas: 3 };
        const split = [untrusted(0, 'X'), untrusted(1, 'Y'), untrusted(2, 'Z')];
        expect(decide(facts({ policy: quorum, results: split, issued: 3, availability: nobody })).kind).toBe('fail');
        expect(decide(facts({ policy: quorum, results: split, issued: 3, availability: { ...nobody, elsewhere: 1 } })).kind).toBe(
          'reclass',
        );
      });

      it('accepts below θ when nobody is eligible and the grace has passed', () => {
        const d = as(decide(facts({ results: fresh, progressAt: NOW - GRACE, availability: nobody })), 'accept');
        expect(d).toMatchObject({ below: true, faulty: false });
      });

      it('sends a dissent below θ to a trusted worker while one is online, and waits for it', () => {
        const results = [untrusted(0, 'X', PROVEN), untrusted(1, 'Y')];
        const online = { trusted: 1, eligible: 5 };
        expect(as(decide(facts({ results, issued: 2, availability: online })), 'issue')).toMatchObject({ count: 1, arbiter: true });
        const d = as(decide(facts({ results, issued: 3, outstanding: 1, arbiterIssued: true, availability: online })), 'wait');
        expect(d.waiting.code).toBe('needs-arbiter');
      });

      it('without a trusted worker, lets an unchecked dissent weigh nothing: one more proven result is all X needs', () => {
        const d = as(
          decide(facts({ results: [untrusted(0, 'X', PROVEN), untrusted(1, 'Y')], issued: 2, availability: { trusted: 0, eligible: 5 } })),
          'issue',
        );
        expect(d).toMatchObject({ count: 1, arbiter: false, waiting: { code: 'needs-agreement' } });
      });
    });

    describe('the leader accepted below θ', () => {
      it('is the credible group, never a larger group of unchecked keys', () => {
        fc.assert(
          fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: LONE }), (keys, k) => {
            const results = [...Array.from({ length: keys }, (_, i) => untrusted(i, 'X')), untrusted(keys, 'Y', k)];
            const d = as(decide(facts({ results, issued: keys + 1, deadlineAt: NOW })), 'accept');
            expect(d.cid).toBe('Y');
            expect(d.agree).toEqual([keys]);
            expect(d.faulty).toBe(false);
          }),
        );
      });

      it('among groups of equal credibility is the one with the earliest result, not the larger one', () => {
        // All unchecked: no group has any weight.
        const results = [untrusted(2, 'X'), untrusted(3, 'X'), untrusted(1, 'Y')];
        for (const order of [results, [...results].reverse()]) {
          const d = as(decide(facts({ results: order, issued: 3, deadlineAt: NOW })), 'accept');
          expect(d).toMatchObject({ cid: 'Y', below: true, agree: [1], faulty: false });
          expect([...d.disagree].sort((a, b) => a - b)).toEqual([2, 3]);
          expect(d.credibility).toBe(0);
        }
      });
    });
  });
});

describe('decide: ground truth comes first', () => {
  it('accepts the trusted result even when enough proven workers outweigh it in credibility', () => {
    // Eight workers with k = 10 agree on X: their group alone reaches θ; the trusted Y still wins.
    const results = [...Array.from({ length: 8 }, (_, i) => untrusted(i, 'X', 10)), trusted(8, 'Y')];
    const d = as(decide(facts({ results, issued: 9, arbiterIssued: true, availability: { trusted: 1, eligible: 4 } })), 'accept');
    expect(d).toMatchObject({ cid: 'Y', anchored: true, faulty: true, agree: [8] });
    expect(d.disagree).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('reopens an unanchored verdict a trusted worker disputes late, without asking who is online', () => {
    const results = [untrusted(0, 'X', PROVEN, { settled: true }), untrusted(1, 'X', PROVEN, { settled: true }), trusted(2, 'Y')];
    expect(decide(facts({ state: 'verified', verdict: { cid: 'X', anchored: false, below: false }, results }))).toEqual({ kind: 'reopen' });
  });

  it('keeps the verdict of a cancelled or failed job’s tile that a late result disputes, trusted or not: the result is overruled', () => {
    const results = [untrusted(0, 'X', PROVEN, { settled: true }), trusted(1, 'Y'), untrusted(2, 'Z', PROVEN)];
    const verdict = { cid: 'X', anchored: false, below: false };
    const d = as(
      decide(facts({ state: 'verified', verdict, results, reopenable: false, availability: { trusted: 1, eligible: 3 } })),
      'late',
    );
    expect(d).toEqual({ kind: 'late', agree: [], disagree: [1, 2], faulty: false, checked: [] });
  });

  it('sends a reopened tile below θ to a trusted worker when one is online', () => {
    const d = as(
      decide(facts({ suspect: true, results: [untrusted(0, 'X', 5, { settled: true })], availability: { trusted: 1, eligible: 3 } })),
      'issue',
    );
    expect(d).toMatchObject({ count: 1, arbiter: true, waiting: { code: 'needs-arbiter' } });
    expect(d.waiting.message).toMatch(/reopened/);
  });

  describe('a tile backtracking reopened, with no trusted worker online', () => {
    // The pair that carried it with the caught worker (whose replica turned invalid) still reaches θ.
    const carried = [untrusted(0, 'X', PROVEN, { settled: true }), untrusted(1, 'X', PROVEN, { settled: true })];
    const reopened = (overrides: FactsOverrides = {}) =>
      facts({ suspect: true, recheck: true, results: carried, issued: 3, availability: { trusted: 0, eligible: 3 }, ...overrides });

    it('is not accepted again on the same votes: one more replica, from outside the group', () => {
      expect(as(decide(reopened()), 'issue')).toMatchObject({ count: 1, arbiter: false, waiting: { code: 'needs-agreement' } });
      expect(as(decide(reopened({ issued: 4, outstanding: 1, held: 1 })), 'wait').waiting.code).toBe('needs-agreement');
    });

    it('is accepted once a fresh result agrees', () => {
      const d = as(decide(reopened({ results: [...carried, untrusted(3, 'X', PROVEN)], issued: 4 })), 'accept');
      expect(d).toMatchObject({ cid: 'X', below: false, agree: [0, 1, 3] });
    });

    it('becomes a dispute the most-checked worker decides when a fresh result disagrees', () => {
      const honest = untrusted(3, 'Y', 5 * PROVEN);
      expect(decide(reopened({ results: [...carried, honest], issued: 4 })).kind).toBe('wait');
      const later = reopened({ results: [...carried, honest], issued: 4, progressAt: NOW - GRACE });
      expect(as(decide(later), 'accept')).toMatchObject({ cid: 'Y', below: true, faulty: false });
    });

    it('stands as it was when nobody else could render it, or no replica is left', () => {
      expect(as(decide(reopened({ availability: nobody })), 'accept')).toMatchObject({ cid: 'X', below: false });
      expect(as(decide(reopened({ issued: 16 })), 'accept').cid).toBe('X');
    });

    it('stands marked below θ when the fresh result is an unchecked key’s, whose agreement weighs nothing: no replica more', () => {
      const d = as(decide(reopened({ results: [...carried, untrusted(3, 'X')], issued: 4 })), 'accept');
      expect(d).toMatchObject({ cid: 'X', below: true, anchored: false, faulty: false });
    });

    it('never fails its job past its timeout, whatever the job’s policy: it stands below θ, marked', () => {
      const weak = [untrusted(0, 'X', 1, { settled: true })];
      const late = { results: weak, deadlineAt: NOW - 1, policy: { onTimeout: 'fail' as const } };
      expect(decide(facts(late)).kind).toBe('fail');
      expect(as(decide(facts({ ...late, suspect: true })), 'accept')).toMatchObject({ cid: 'X', below: true });
      // Under quorum too: a strict leader stands.
      const quorum = {
        ...late,
        results: [untrusted(0, 'X'), untrusted(1, 'X'), untrusted(2, 'Y')],
        policy: { onTimeout: 'fail' as const, verification: 'quorum' as const, replicas: 5 },
      };
      expect(decide(facts({ ...quorum, issued: 7 })).kind).toBe('fail');
      expect(as(decide(facts({ ...quorum, issued: 7, suspect: true })), 'accept')).toMatchObject({ cid: 'X', below: true });
    });

    it('stands as before when its verdict was old (backtracking asks no recheck) or an arbiter was sent for it', () => {
      expect(as(decide(reopened({ recheck: false })), 'accept').cid).toBe('X');
      expect(as(decide(reopened({ arbiterIssued: true })), 'accept').cid).toBe('X');
    });
  });

  it('does not wait for the job’s timeout on an arbiter slot once the last trusted worker has left', () => {
    const stranded = facts({
      suspect: true,
      results: [untrusted(0, 'X', 5, { settled: true })],
      issued: 2,
      outstanding: 1,
      arbiterIssued: true,
      arbiterUnheld: true,
      availability: { trusted: 0, eligible: 4 },
    });
    expect(as(decide(stranded), 'wait')).toMatchObject({ idleAt: NOW + GRACE, waiting: { code: 'no-eligible-worker' } });
    expect(as(decide({ ...stranded, progressAt: NOW - GRACE }), 'accept')).toMatchObject({ cid: 'X', below: true });
  });

  it('lets an unchecked dissent neither lower a proven result nor go unchecked when a trusted worker is online', () => {
    const lone = untrusted(0, 'X', LONE);
    const alone = as(decide(facts({ results: [lone], auditRoll: 0.99 })), 'accept');
    const opposed = decide(facts({ results: [lone, untrusted(1, 'Y')], issued: 2, availability: { trusted: 0, eligible: 0 } }));
    expect(as(opposed, 'accept').credibility).toBe(alone.credibility);
    const arbitrated = decide(facts({ results: [lone, untrusted(1, 'Y')], issued: 2, availability: { trusted: 1, eligible: 0 } }));
    expect(as(arbitrated, 'issue')).toMatchObject({ count: 1, arbiter: true });
  });
});

describe('decide: audits of unanchored verdicts', () => {
  // θ = 0.95: two workers with one check each reach it together.
  const loose = { theta: 0.95 };
  const pair = [untrusted(0, 'X', 1), untrusted(1, 'X', 1)];

  it('audits a verdict resting on barely checked workers, by a trusted worker when one is online', () => {
    const d = as(
      decide(facts({ policy: loose, results: pair, issued: 2, auditRoll: 0.5, availability: { trusted: 1, eligible: 3 } })),
      'issue',
    );
    expect(d).toMatchObject({ count: 1, arbiter: true, audit: true });
  });

  it('audits once: after the audit it accepts', () => {
    const d = as(
      decide(facts({ policy: loose, results: [...pair, untrusted(2, 'X', 1)], issued: 3, audited: true, auditRoll: 0.5 })),
      'accept',
    );
    expect(d).toMatchObject({ cid: 'X', anchored: false, faulty: false });
  });

  it('rarely audits proven workers: the chance is AUDIT_SCALE/k of the least checked', () => {
    const proven = [untrusted(0, 'X', 40), untrusted(1, 'X', 50)];
    expect(decide(facts({ policy: loose, results: proven, issued: 2, auditRoll: AUDIT_SCALE / 40 - 1e-9 })).kind).toBe(
      'needs-availability',
    );
    expect(decide(facts({ policy: loose, results: proven, issued: 2, auditRoll: AUDIT_SCALE / 40 })).kind).toBe('accept');
  });
});

describe('decide: held verdicts and timeouts', () => {
  it('holds an audited verdict until the audit answers, and accepts it skipped only when nobody can take it', () => {
    const pair = [untrusted(0, 'X', 1), untrusted(1, 'X', 1)];
    const inFlight = { policy: { theta: 0.95 }, results: pair, issued: 3, audited: true, outstanding: 1 };
    expect(as(decide(facts({ ...inFlight, held: 1 })), 'wait').waiting.code).toBe('audit');
    const starved = decide(facts({ ...inFlight, held: 0, progressAt: NOW - GRACE, availability: { trusted: 0, eligible: 0 } }));
    expect(as(starved, 'accept')).toMatchObject({ cid: 'X', auditSkipped: true });
  });

  it('decides a quorum tile at the job timeout, and fails a tile nobody rendered, whatever the policy', () => {
    const d = as(
      decide(facts({ policy: { verification: 'quorum' }, results: [untrusted(0, 'X')], outstanding: 1, held: 1, deadlineAt: NOW })),
      'accept',
    );
    expect(d).toMatchObject({ cid: 'X', below: true, faulty: false });
    expect(decide(facts({ policy: { onTimeout: 'fail' }, outstanding: 1, deadlineAt: NOW })).kind).toBe('fail');
    expect(decide(facts({ policy: { verification: 'quorum', onTimeout: 'fail' }, outstanding: 2, deadlineAt: NOW })).kind).toBe('fail');
    // Nothing to accept: a job whose tile no worker can render does not wait forever.
    for (const verification of ['credibility', 'quorum'] as const)
      expect(
        decide(facts({ policy: { verification }, outstanding: 1, deadlineAt: NOW, availability: { trusted: 0, eligible: 0 } })),
      ).toMatchObject({
        kind: 'fail',
        message: 'no worker rendered the tile before the job timed out',
      });
  });
});

describe('decide: poison work', () => {
  const broken = { attempts: 3, trustedError: 'kernel panic', outstanding: 1 };

  it.each(['credibility', 'quorum'] as const)(
    'fails a tile nobody rendered after %s attempts an operator’s worker confirmed',
    (verification) => {
      expect(decide(facts({ ...broken, policy: { verification } }))).toEqual({
        kind: 'fail',
        message: 'rendering failed 3 times: kernel panic',
      });
    },
  );

  it('fails at once a tile the operator’s worker refused as too costly to trace, whatever untrusted keys answered; not one a trusted worker rendered', () => {
    // No honest worker of the class has a result for it: keys agreeing on junk had carried it.
    const refused = { attempts: 1, trustedError: `${TOO_COSTLY}: its rays test more than 1024 …`, outstanding: 0 };
    for (const verification of ['credibility', 'quorum'] as const)
      expect(decide(facts({ ...refused, policy: { verification }, results: [untrusted(0, 'junk', 9), untrusted(1, 'junk', 9)] }))).toEqual({
        kind: 'fail',
        message: `rendering refused: ${refused.trustedError}`,
      });
    expect(decide(facts({ ...refused, results: [trusted(0, 'X')] }))).toMatchObject({ kind: 'accept', cid: 'X' });
  });

  it('keeps trying below the limit, or when the errors are only untrusted keys’ word, or once some worker rendered it', () => {
    expect(decide(facts({ ...broken, attempts: 2 })).kind).not.toBe('fail');
    // A few free keys claiming errors must not fail someone's job: its timeout decides instead.
    expect(decide(facts({ ...broken, attempts: 10, trustedError: null })).kind).not.toBe('fail');
    expect(decide(facts({ ...broken, results: [trusted(0, 'X')] }))).toMatchObject({ kind: 'accept', cid: 'X' });
  });
});

describe('decide: quorum scheme', () => {
  const quorum = (overrides: FactsOverrides = {}) =>
    facts({ ...overrides, policy: { verification: 'quorum', replicas: 2, maxReplicas: 6, ...overrides.policy } });

  it('sends a reopened tile to a trusted worker while one is online, and takes its word', () => {
    const agreed = [untrusted(0, 'X', 0, { settled: true }), untrusted(1, 'X', 0, { settled: true })];
    const online = { trusted: 1, eligible: 1 };
    expect(decide(quorum({ results: agreed, issued: 2, suspect: true })).kind).toBe('needs-availability');
    expect(as(decide(quorum({ results: agreed, issued: 2, suspect: true, availability: online })), 'issue')).toMatchObject({
      count: 1,
      arbiter: true,
    });
    const asked = quorum({ results: agreed, issued: 3, outstanding: 1, suspect: true, arbiterIssued: true, availability: online });
    expect(decide(asked).kind).toBe('wait');
    const answered = as(decide({ ...asked, outstanding: 0, results: [...agreed, trusted(2, 'Y')] }), 'accept');
    expect(answered).toMatchObject({ cid: 'Y', anchored: true, disagree: [0, 1] });
    // Backtracking left one vote of R = 2: the arbiter's answer still decides.
    const one = quorum({ results: [agreed[0], trusted(2, 'Y')], issued: 3, suspect: true, arbiterIssued: true, availability: online });
    expect(as(decide(one), 'accept')).toMatchObject({ cid: 'Y', anchored: true });
    // Nobody to ask: the votes stand.
    expect(as(decide(quorum({ results: agreed, issued: 2, suspect: true, availability: nobody })), 'accept').cid).toBe('X');
  });

  it('accepts when the first R agree, unchecked keys included, judging nobody without a trusted result', () => {
    const d = as(decide(quorum({ results: [untrusted(0, 'X'), untrusted(1, 'X')], issued: 2 })), 'accept');
    expect(d).toEqual({
      kind: 'accept',
      cid: 'X',
      credibility: null,
      below: false,
      anchored: false,
      agree: [0, 1],
      disagree: [],
      faulty: false,
      checked: [],
      auditSkipped: false,
      basis: {},
    });
  });

  it('anchors a majority that holds a trusted result: it checks the agreeing and faults the disagreeing', () => {
    const d = as(decide(quorum({ results: [trusted(0, 'X'), untrusted(1, 'Y'), untrusted(2, 'X')], issued: 3 })), 'accept');
    expect(d).toMatchObject({ cid: 'X', anchored: true, faulty: true, agree: [0, 2], disagree: [1], checked: [2] });
  });

  it('lets no majority outvote a trusted result: with R results in, it is the verdict', () => {
    const d = as(decide(quorum({ results: [trusted(0, 'X'), untrusted(1, 'Y'), untrusted(2, 'Y')], issued: 3 })), 'accept');
    expect(d).toMatchObject({ cid: 'X', anchored: true, faulty: true, agree: [0], disagree: [1, 2] });
    const pair = as(decide(quorum({ results: [untrusted(0, 'Y'), trusted(1, 'X')], issued: 2 })), 'accept');
    expect(pair).toMatchObject({ cid: 'X', anchored: true, faulty: true, disagree: [0] });
  });

  it('sends a disagreement to a trusted worker while one is online, and takes its word: a tie-break replica could go to the dissenter’s colluders', () => {
    const split = [untrusted(0, 'X'), untrusted(1, 'Y')];
    const online = { trusted: 1, eligible: 3 };
    expect(decide(quorum({ results: split, issued: 2 })).kind).toBe('needs-availability');
    expect(as(decide(quorum({ results: split, issued: 2, availability: online })), 'issue')).toMatchObject({
      count: 1,
      arbiter: true,
      waiting: { code: 'needs-arbiter' },
    });
    // A colluder answering an ordinary replica meanwhile makes no majority while the arbiter is asked.
    const raced = [...split, untrusted(2, 'Y')];
    expect(decide(quorum({ results: raced, issued: 4, outstanding: 1, arbiterIssued: true, availability: online })).kind).toBe('wait');
    const answered = as(
      decide(quorum({ results: [...raced, trusted(3, 'X')], issued: 4, arbiterIssued: true, availability: online })),
      'accept',
    );
    expect(answered).toMatchObject({ cid: 'X', anchored: true, faulty: true, agree: [0, 3], disagree: [1, 2], checked: [0] });
    // Nobody trusted online: one more ordinary replica.
    expect(as(decide(quorum({ results: split, issued: 2, availability: nobody })), 'issue')).toMatchObject({
      count: 1,
      arbiter: false,
      waiting: { code: 'needs-agreement' },
    });
  });

  it('issues what R still lacks', () => {
    const d = as(decide(quorum({ results: [untrusted(0, 'X')], policy: { replicas: 3 } })), 'issue');
    expect(d.count).toBe(2);
  });

  it('accepts a strict majority after a disagreement when no trusted worker is online', () => {
    const results = [untrusted(0, 'X'), untrusted(1, 'Y'), untrusted(2, 'X')];
    const d = as(decide(quorum({ results, issued: 3, availability: nobody })), 'accept');
    expect(d).toMatchObject({ cid: 'X', below: false, agree: [0, 2], disagree: [1], faulty: false });
  });

  it('fails when maxReplicas are spent without a majority', () => {
    const results = [untrusted(0, 'X'), untrusted(1, 'Y'), untrusted(2, 'X'), untrusted(3, 'Y')];
    const d = as(decide(quorum({ results, issued: 4, policy: { maxReplicas: 4 }, availability: nobody })), 'fail');
    expect(d.message).toContain('no majority');
  });

  it('waits without a wake-up while workers hold the replicas out', () => {
    expect(as(decide(quorum({ results: [untrusted(0, 'X')], issued: 2, outstanding: 1, held: 1 })), 'wait').idleAt).toBeNull();
  });

  describe('starved short of R', () => {
    const since = NOW - GRACE;
    const starved = (results: ResultFact[], overrides: FactsOverrides = {}) =>
      quorum({
        results,
        issued: results.length + 1,
        outstanding: 1,
        held: 0,
        progressAt: since,
        availability: nobody,
        ...overrides,
        policy: { replicas: 4, ...overrides.policy },
      });
    const leading = [trusted(0, 'X'), untrusted(1, 'X'), untrusted(2, 'Y')];

    it('waits out the grace', () => {
      const d = as(decide(starved(leading, { now: since + GRACE - 1 })), 'wait');
      expect(d.waiting).toMatchObject({ code: 'no-eligible-worker', decideAt: since + GRACE });
    });

    it('then accepts a strict leader below the quorum, unanchored and judging nobody', () => {
      const d = as(decide(starved(leading)), 'accept');
      expect(d).toMatchObject({ cid: 'X', below: true, anchored: false, faulty: false, checked: [], agree: [0, 1], disagree: [2] });
    });

    it('fails without a strict leader', () => {
      expect(decide(starved([untrusted(0, 'X'), untrusted(1, 'Y')])).kind).toBe('fail');
    });

    it("fails under onTimeout: 'fail' even with a strict leader", () => {
      expect(decide(starved(leading, { policy: { onTimeout: 'fail' } })).kind).toBe('fail');
    });
  });
});

describe('decide: results after the verdict', () => {
  const verified = (anchored: boolean, results: ResultFact[], overrides: FactsOverrides = {}) =>
    facts({ state: 'verified', verdict: { cid: 'X', anchored, below: false }, results, issued: results.length, ...overrides });

  it('has nothing to do without new results', () => {
    expect(decide(verified(true, [trusted(0, 'X', { settled: true })]))).toEqual({ kind: 'none' });
    expect(decide(verified(false, []))).toEqual({ kind: 'none' });
  });

  describe('on an anchored verdict', () => {
    const settled = [trusted(0, 'X', { settled: true }), untrusted(1, 'X', 0, { settled: true })];

    it('counts a late agreeing untrusted result as a passed check', () => {
      expect(decide(verified(true, [...settled, untrusted(2, 'X')]))).toEqual({
        kind: 'late',
        agree: [2],
        disagree: [],
        faulty: true,
        checked: [2],
      });
    });

    it('never counts a trusted result as a check', () => {
      expect(as(decide(verified(true, [...settled, trusted(2, 'X')])), 'late')).toMatchObject({ agree: [2], checked: [] });
    });

    it('marks a late disagreeing result faulty', () => {
      expect(decide(verified(true, [...settled, untrusted(2, 'Y', PROVEN)]))).toEqual({
        kind: 'late',
        agree: [],
        disagree: [2],
        faulty: true,
        checked: [],
      });
    });
  });

  describe('on an unanchored verdict', () => {
    const settled = [untrusted(0, 'X', PROVEN, { settled: true }), untrusted(1, 'X', PROVEN, { settled: true })];

    it('records a late agreeing result without judging anyone or asking who is online', () => {
      expect(decide(verified(false, [...settled, untrusted(2, 'X', PROVEN)]))).toEqual({
        kind: 'late',
        agree: [2],
        disagree: [],
        faulty: false,
        checked: [],
      });
    });

    it('needs to know who is online when a late result disputes it', () => {
      expect(decide(verified(false, [...settled, untrusted(2, 'Y')]))).toEqual({ kind: 'needs-availability' });
    });

    it('is reopened for arbitration when a late result disputes it and a trusted worker is online', () => {
      expect(decide(verified(false, [...settled, untrusted(2, 'Y')], { availability: { trusted: 1, eligible: 1 } }))).toEqual({
        kind: 'reopen',
      });
    });

    it('stands, judging nobody, when a late result disputes it and no trusted worker is online', () => {
      expect(decide(verified(false, [...settled, untrusted(2, 'Y')], { availability: { trusted: 0, eligible: 3 } }))).toEqual({
        kind: 'late',
        agree: [],
        disagree: [2],
        faulty: false,
        checked: [],
      });
    });

    it('judges nobody against a verdict accepted below θ', () => {
      const d = decide(
        facts({
          state: 'verified',
          verdict: { cid: 'X', anchored: false, below: true },
          results: [untrusted(0, 'X', 0, { settled: true }), untrusted(1, 'X'), untrusted(2, 'Y')],
          availability: nobody,
        }),
      );
      expect(d).toEqual({ kind: 'late', agree: [1], disagree: [2], faulty: false, checked: [] });
    });
  });
});

describe('decide: properties', () => {
  const result = fc.record({
    cid: fc.constantFrom('A', 'B', 'C'),
    trusted: fc.constantFrom(false, false, false, true),
    k: fc.constantFrom(0, 0, 1, 5, PROVEN, 100, LONE, 5000),
    faults: fc.nat(3),
    settled: fc.boolean(),
  });
  const toResults = (rs: readonly { cid: string; trusted: boolean; k: number; faults: number; settled: boolean }[]): ResultFact[] =>
    rs.map((r, slot) =>
      r.trusted
        ? trusted(slot, r.cid, { faults: r.faults, settled: r.settled })
        : untrusted(slot, r.cid, r.k, { faults: r.faults, settled: r.settled }),
    );

  /** Any facts the runner could load, pending or verified, under either scheme. */
  const anyFacts = (results: fc.Arbitrary<ResultFact[]>, verifications: Policy['verification'][] = ['credibility', 'quorum']) =>
    fc
      .record({
        verification: fc.constantFrom(...verifications),
        epsilon: fc.constantFrom(1e-2, 1e-4, 1e-8),
        replicas: fc.integer({ min: 1, max: 4 }),
        maxReplicas: fc.integer({ min: 1, max: 16 }),
        onTimeout: fc.constantFrom<Policy['onTimeout'][]>('accept', 'fail'),
        state: fc.constantFrom<TaskFacts['state'][]>('pending', 'pending', 'verified'),
        verdict: fc.record({ cid: fc.constantFrom('A', 'B', 'C'), anchored: fc.boolean(), below: fc.boolean() }),
        results,
        outstanding: fc.nat(3),
        held: fc.nat(3),
        extraIssued: fc.nat(4),
        suspect: fc.boolean(),
        arbiterIssued: fc.boolean(),
        arbiterUnheld: fc.boolean(),
        knownAnswersShort: fc.boolean(),
        recheck: fc.boolean(),
        auditRoll: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        sinceProgress: fc.integer({ min: 0, max: 2 * GRACE }),
        timedOut: fc.boolean(),
        availability: fc.option(
          fc
            .record({ trusted: fc.nat(2), untrusted: fc.nat(3) })
            .map(({ trusted, untrusted }) => ({ trusted, eligible: trusted + untrusted })),
          { nil: undefined },
        ),
      })
      .map(
        (a): TaskFacts =>
          facts({
            policy: {
              verification: a.verification,
              theta: threshold(a.epsilon),
              replicas: a.replicas,
              maxReplicas: a.maxReplicas,
              onTimeout: a.onTimeout,
            },
            state: a.state,
            // A verdict below θ is never anchored.
            verdict: a.state === 'verified' ? { ...a.verdict, below: a.verdict.anchored ? false : a.verdict.below } : null,
            results: a.results,
            issued: a.results.length + a.outstanding + a.extraIssued,
            outstanding: a.outstanding,
            held: Math.min(a.held, a.outstanding),
            suspect: a.suspect,
            arbiterIssued: a.arbiterIssued,
            arbiterUnheld: a.arbiterIssued && a.arbiterUnheld,
            knownAnswersShort: a.knownAnswersShort,
            recheck: a.recheck,
            auditRoll: a.auditRoll,
            progressAt: NOW - a.sinceProgress,
            deadlineAt: a.timedOut ? NOW : Number.POSITIVE_INFINITY,
            ...(a.availability ? { availability: a.availability } : {}),
          }),
      );
  const mixed = fc.array(result, { maxLength: 8 }).map(toResults);
  const trustedSlots = (f: TaskFacts) => new Set(f.results.filter((r) => r.trusted).map((r) => r.slot));

  it('marks faults and checks only when a trusted result is in the accepted group', () => {
    fc.assert(
      fc.property(anyFacts(mixed), (f) => {
        const d = decide(f);
        const trustedIn = trustedSlots(f);
        if (d.kind === 'accept') {
          const anchoredByTrusted = d.agree.some((s) => trustedIn.has(s));
          if (d.anchored) expect(anchoredByTrusted).toBe(true);
          if (d.faulty || d.checked.length > 0) expect(d.anchored).toBe(true);
          for (const s of d.checked) {
            expect(d.agree).toContain(s);
            expect(trustedIn.has(s)).toBe(false);
          }
        }
        if (d.kind === 'late') {
          if (d.faulty || d.checked.length > 0) expect(f.verdict?.anchored).toBe(true);
          for (const s of d.checked) {
            expect(d.agree).toContain(s);
            expect(trustedIn.has(s)).toBe(false);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never judges anyone with a verdict accepted below θ', () => {
    // Timed-out pending facts reach the below-θ paths often.
    const timedOut = anyFacts(mixed).map((f) => ({ ...f, state: 'pending' as const, verdict: null, deadlineAt: NOW }));
    fc.assert(
      fc.property(fc.oneof(anyFacts(mixed), timedOut), (f) => {
        const d = decide(f);
        if (d.kind === 'accept' && d.below) {
          expect(d.anchored).toBe(false);
          expect(d.faulty).toBe(false);
          expect(d.checked).toEqual([]);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never accepts at θ on the word of any number of unchecked keys, nor judges anyone with it', () => {
    const keys = fc
      .array(fc.constantFrom('A', 'A', 'A', 'B'), { minLength: 1, maxLength: 40 })
      .map((cids) => cids.map((cid, slot) => untrusted(slot, cid, 0)));
    fc.assert(
      fc.property(anyFacts(keys, ['credibility']), (f) => {
        const d = decide({ ...f, state: 'pending', verdict: null });
        if (d.kind === 'accept') {
          expect(d.below).toBe(true);
          expect(d.faulty).toBe(false);
          expect(d.checked).toEqual([]);
        }
      }),
    );
  });

  it('partitions the results into agreeing and disagreeing on every accept', () => {
    fc.assert(
      fc.property(anyFacts(mixed), (f) => {
        const d = decide(f);
        if (d.kind !== 'accept') return;
        expect([...d.agree, ...d.disagree].sort((a, b) => a - b)).toEqual(f.results.map((r) => r.slot));
        for (const s of d.agree) expect(f.results.find((r) => r.slot === s)?.cid).toBe(d.cid);
        for (const s of d.disagree) expect(f.results.find((r) => r.slot === s)?.cid).not.toBe(d.cid);
      }),
    );
  });

  it('consults availability only when it asks for it', () => {
    // The runner decides once without availability and loads it only on 'needs-availability'.
    fc.assert(
      fc.property(anyFacts(mixed), fc.record({ trusted: fc.nat(2), eligible: fc.nat(4) }), (f, availability) => {
        const { availability: _, ...without } = f;
        const first = decide(without);
        if (first.kind === 'needs-availability') expect(decide({ ...without, availability }).kind).not.toBe('needs-availability');
        else expect(decide({ ...without, availability })).toEqual(first);
      }),
    );
  });

  it('decides equal facts equally and leaves them untouched', () => {
    fc.assert(
      fc.property(anyFacts(mixed), (f) => {
        const copy = structuredClone(f);
        const d = decide(f);
        expect(f).toEqual(copy);
        expect(decide(copy)).toEqual(d);
      }),
    );
  });
});

describe('nearlyEqual', () => {
  const rgba = (...values: number[]) => Uint8Array.from(values);

  it('refuses images of different sizes or that are not RGBA', () => {
    expect(nearlyEqual(rgba(1, 2, 3, 4), rgba(1, 2, 3, 4, 1, 2, 3, 4), DEFAULT_TOLERANCE)).toBe(false);
    expect(nearlyEqual(rgba(1, 2, 3), rgba(1, 2, 3), DEFAULT_TOLERANCE)).toBe(false);
  });

  it('allows each channel to differ by up to the tolerated levels', () => {
    expect(nearlyEqual(rgba(10, 10, 10, 255), rgba(12, 8, 10, 253), DEFAULT_TOLERANCE)).toBe(true);
    expect(nearlyEqual(rgba(10, 10, 10, 255), rgba(13, 10, 10, 255), DEFAULT_TOLERANCE)).toBe(false);
  });

  it('allows the tolerated share of pixels to differ by more', () => {
    // 1000 pixels at share 0.999: one may be off, two may not.
    const a = new Uint8Array(4000).fill(100);
    const one = Uint8Array.from(a);
    one[0] = 0;
    const two = Uint8Array.from(one);
    two[4 * 500 + 2] = 255;
    expect(nearlyEqual(a, one, DEFAULT_TOLERANCE)).toBe(true);
    expect(nearlyEqual(a, two, DEFAULT_TOLERANCE)).toBe(false);
  });

  const tolerance: fc.Arbitrary<Tolerance> = fc.record({
    levels: fc.integer({ min: 0, max: 10 }),
    share: fc.double({ min: 0.9, max: 1, noNaN: true }),
  });
  const pair = fc
    .integer({ min: 0, max: 64 })
    .chain((pixels) =>
      fc.tuple(
        fc.uint8Array({ minLength: pixels * 4, maxLength: pixels * 4 }),
        fc.uint8Array({ minLength: pixels * 4, maxLength: pixels * 4 }),
      ),
    );

  it('is reflexive', () => {
    fc.assert(
      fc.property(pair, tolerance, ([a], t) => {
        expect(nearlyEqual(a, a, t)).toBe(true);
      }),
    );
  });

  it('is symmetric', () => {
    fc.assert(
      fc.property(pair, tolerance, ([a, b], t) => {
        expect(nearlyEqual(a, b, t)).toBe(nearlyEqual(b, a, t));
      }),
    );
  });
});

describe('determinism classes', () => {
  const tile = (value: number) => new Uint8Array(16).fill(value);
  const known = (cids: string[], pixels: Uint8Array[], established: boolean): KnownClass => ({
    id: fingerprint(cids),
    cids,
    pixels,
    established,
  });
  const reference = known(['a', 'b'], [tile(100), tile(200)], true);

  it('fingerprints the answers in order as c + 12 hex digits', () => {
    expect(fingerprint(['a', 'b'])).toMatch(/^c[0-9a-f]{12}$/);
    expect(fingerprint(['a', 'b'])).toBe(fingerprint(['a', 'b']));
    expect(fingerprint(['a', 'b'])).not.toBe(fingerprint(['b', 'a']));
    expect(fingerprint(['a', 'b'])).not.toBe(fingerprint(['a', 'c']));
  });

  it("establishes a new class from a trusted worker's answers", () => {
    const answers = { cids: ['x', 'y'], pixels: [tile(1), tile(2)] };
    expect(classify(answers, [reference], true, DEFAULT_TOLERANCE)).toMatchObject({
      class: fingerprint(['x', 'y']),
      state: 'established',
      near: null,
      establishes: true,
    });
  });

  it('lets a trusted worker join an established class without establishing it again', () => {
    expect(classify(reference, [reference], true, DEFAULT_TOLERANCE)).toMatchObject({
      class: reference.id,
      state: 'established',
      establishes: false,
    });
  });

  it('has a trusted worker establish a class that so far was only provisional', () => {
    const provisional = { ...reference, established: false };
    expect(classify(reference, [provisional], true, DEFAULT_TOLERANCE)).toMatchObject({ class: reference.id, establishes: true });
  });

  it('joins an untrusted worker whose answers equal an established class', () => {
    expect(classify(reference, [reference], false, DEFAULT_TOLERANCE)).toMatchObject({
      class: reference.id,
      state: 'established',
      near: null,
      establishes: false,
    });
  });

  it('leaves an untrusted worker unclassified while no class is established', () => {
    const provisional = { ...reference, established: false };
    for (const classes of [[], [provisional]]) {
      expect(classify(reference, classes, false, DEFAULT_TOLERANCE)).toMatchObject({
        class: null,
        state: 'unclassified',
        establishes: false,
      });
    }
  });

  it('makes a near match within the tolerance a provisional class of its own', () => {
    const answers = { cids: ['a2', 'b2'], pixels: [tile(101), tile(198)] };
    expect(classify(answers, [reference], false, DEFAULT_TOLERANCE)).toMatchObject({
      class: fingerprint(['a2', 'b2']),
      state: 'provisional',
      near: reference.id,
      establishes: false,
    });
  });

  it('refuses answers that nearly match on some tiles but not all, or on a different number of tiles', () => {
    const partly = { cids: ['a2', 'b2'], pixels: [tile(101), tile(150)] };
    const fewer = { cids: ['a2'], pixels: [tile(101)] };
    for (const answers of [partly, fewer]) {
      expect(classify(answers, [reference], false, DEFAULT_TOLERANCE)).toMatchObject({ class: null, state: 'refused', near: null });
    }
  });

  it('never takes a provisional class as the reference of a near match', () => {
    const provisional = known(['p', 'q'], [tile(10), tile(20)], false);
    const answers = { cids: ['p2', 'q2'], pixels: [tile(11), tile(21)] };
    expect(classify(answers, [reference, provisional], false, DEFAULT_TOLERANCE)).toMatchObject({ state: 'refused' });
  });
});

describe('dispatch helpers', () => {
  it('gives newcomers only spot checks, the barely checked many, everyone at least q; q = 0 turns them off', () => {
    expect(spotCheckChance(0.05, 0)).toBe(1);
    expect(spotCheckChance(0.05, 1)).toBeCloseTo(1 / 3, 12);
    expect(spotCheckChance(0.05, 8)).toBe(0.1);
    expect(spotCheckChance(0.05, 1000)).toBe(0.05);
    expect(spotCheckChance(0.6, 1)).toBe(0.6);
    expect(spotCheckChance(0, 0)).toBe(0);
  });

  it('pays a spot check what its slot would have traded at, never above the last trade, nothing before one', () => {
    expect(checkPrice(750, 750)).toBe(750);
    // A window's price or an ask the worker set above the market: the treasury pays the market.
    expect(checkPrice(10 ** 9, 750)).toBe(750);
    expect(checkPrice(400, 750)).toBe(400);
    expect(checkPrice(400, null)).toBeNull();
  });

  it('never spot-checks less as k falls', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(10_000), fc.nat(10_000), (q, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(spotCheckChance(q, lo)).toBeGreaterThanOrEqual(spotCheckChance(q, hi));
        expect(spotCheckChance(q, hi)).toBeGreaterThanOrEqual(q);
        if (lo > 0) expect(spotCheckChance(q, lo)).toBeLessThanOrEqual(Math.max(q, 1 / 3));
      }),
    );
  });

  it("caps one untrusted worker's tiles of a job at the rounded-up share, never under the floor", () => {
    expect(shareCap(100, 0.25, 4)).toBe(25);
    expect(shareCap(101, 0.25, 4)).toBe(26);
    expect(shareCap(10, 0.25, 4)).toBe(4);
    expect(shareCap(0, 0.5, 2)).toBe(2);
  });

  it('gives at least the share and the floor, and less than one tile more', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(50), (total, share, floor) => {
        const cap = shareCap(total, share, floor);
        expect(Number.isInteger(cap)).toBe(true);
        expect(cap).toBeGreaterThanOrEqual(floor);
        expect(cap).toBeGreaterThanOrEqual(total * share);
        expect(cap - 1).toBeLessThan(Math.max(floor, total * share));
      }),
    );
  });
});
