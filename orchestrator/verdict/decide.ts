/**
 * The verdict on one tile, as a pure function of its records: what the farm knows about the task
 * (its results, who produced them and how credible they are, what is still out, who could still
 * take a replica, the clock) in, one decision out. Every path that judges a tile — an upload, the
 * small-farm grace, a job's timeout, backtracking, recovery after a crash — goes through here
 * (runner.ts loads the facts and applies the decision).
 *
 * The rules that make it hold against workers that are anonymous keys:
 * - Ground truth comes only from the operator's trusted workers. A verdict is *anchored* when a
 *   trusted worker's result is in the accepted group; only anchored verdicts (and spot checks,
 *   whose answers are anchored tiles) raise anyone's credibility or mark anyone faulty. Agreement
 *   among untrusted workers never does, nor does an acceptance below θ.
 * - An unchecked worker weighs nothing (credibility.ts), so free identities cannot outvote.
 * - Results that disagree, a tile reopened by backtracking and audits of lone results go to a
 *   trusted worker for arbitration whenever one of the class is online.
 * - A tile that cannot progress (no further eligible worker) is decided after a short grace; a job
 *   past its timeout decides what it has. Neither marks anyone faulty. But a tile starved in its
 *   class (the class of its first worker, which alone can match its results) that another class's
 *   trusted worker could render is opened to the others instead, its class set aside for it: keys
 *   of a rare class had taken a tile each and answered junk, to have it accepted below θ or fail
 *   its job.
 */
import type { TileWait } from '../../shared/protocol.ts';
import { isTooCostly } from '../../shared/render-units.ts';
import { agreeingNeeded, groupCredibilities, NO_EVIDENCE } from './credibility.ts';
import { quorumWinner, tally } from './quorum.ts';

export interface ResultFact {
  slot: number;
  worker: string;
  cid: string;
  /** Already judged valid (part of the accepted group before a reopen); else awaiting its verdict. */
  settled: boolean;
  /** The worker's credibility in the task's class. */
  credibility: number;
  trusted: boolean;
  /** Checks against ground truth it has passed (k): a lone result is audited with probability 1/k. */
  passed: number;
  /** Its fault count, which the credibility was computed from. */
  faults: number;
}

export interface Policy {
  verification: 'credibility' | 'quorum';
  /** θ = 1 − ε. */
  theta: number;
  /** Assumed saboteur fraction. */
  f: number;
  /** R, under quorum. */
  replicas: number;
  maxReplicas: number;
  onTimeout: 'accept' | 'fail';
  /** Failed or abandoned replicas after which a tile nobody rendered fails (BullMQ's `attempts`). */
  renderAttempts: number;
}

export interface Availability {
  /** Trusted workers of the class online that have not voted on the task. */
  trusted: number;
  /** 1 when a worker of the class could take a replica of it (trusted included), else 0. */
  eligible: number;
  /** Other classes, not set aside for the task, with a trusted worker online (absent: none). */
  elsewhere?: number;
}

export interface TaskFacts {
  policy: Policy;
  state: 'pending' | 'verified';
  /** The verdict of a verified task. */
  verdict: { cid: string; anchored: boolean; below: boolean } | null;
  issued: number;
  /** Replicas issued and not answered. */
  outstanding: number;
  /** Of those, how many a worker holds right now (the rest wait in a queue). */
  held: number;
  /** Results that vote: awaiting a verdict, or valid from before a reopen. */
  results: readonly ResultFact[];
  /** Reopened by backtracking or a dispute: wants a trusted worker's result. */
  suspect: boolean;
  /** A replica for the trusted workers only has been issued. */
  arbiterIssued: boolean;
  /** … and nobody holds or has answered it: it waits in a queue only trusted workers take. */
  arbiterUnheld: boolean;
  /** An audit replica has been issued (a task is audited at most once). */
  audited: boolean;
  /** A uniform draw in [0, 1), fixed per task: decides whether an unanchored verdict is audited. */
  auditRoll: number;
  /**
   * The class holds fewer known answers (anchored tiles that serve as spot checks) than the farm
   * keeps: a trusted worker online audits verdicts no trusted worker backs (as many at once as the
   * runner can reserve: known-answers.ts).
   */
  knownAnswersShort: boolean;
  /**
   * Reopened because a worker its accepted group rested on was caught, soon after its verdict
   * (runner.ts): with no trusted worker to arbitrate, it wants a fresh result before it stands.
   */
  recheck: boolean;
  now: number;
  /** Last time a replica of the task was issued, taken, answered or given up. */
  progressAt: number;
  graceMs: number;
  /** When the job times out. */
  deadlineAt: number;
  /** The tile has a class (its first worker's): only that class's results can agree. */
  classed: boolean;
  /**
   * The job may run again: it runs, or it finished (reopen.lua). A late result on a tile of a job
   * cancelled or failed is judged against the verdict, which stands: a dissent there reopens nothing.
   */
  reopenable: boolean;
  /** Who could still take a replica; loaded only when a decision needs it. */
  availability?: Availability;
  /** Replicas that ended in a reported render error or a timeout, earlier holders included. */
  attempts: number;
  /** The render error one of the operator's trusted workers reported, if any. */
  trustedError: string | null;
}

export interface Accept {
  kind: 'accept';
  cid: string;
  /** Credibility of the accepted group (credibility scheme), else null. */
  credibility: number | null;
  below: boolean;
  anchored: boolean;
  agree: number[];
  disagree: number[];
  /** The disagreeing results are faults: the verdict is ground truth. */
  faulty: boolean;
  /** Agreeing results that count as passed checks against ground truth. */
  checked: number[];
  auditSkipped: boolean;
  /** worker → fault count the credibilities came from. */
  basis: Record<string, number>;
}

export type Decision =
  | Accept
  | { kind: 'late'; agree: number[]; disagree: number[]; faulty: boolean; checked: number[] }
  | {
      kind: 'issue';
      count: number;
      arbiter: boolean;
      audit: boolean;
      /** An audit that stocks the class's known answers: the farm's need, so the treasury pays it. */
      stock: boolean;
      waiting: TileWait;
    }
  | { kind: 'wait'; waiting: TileWait; idleAt: number | null }
  | { kind: 'reopen' }
  /** Starved in its class: its results there are set aside and any other class renders it afresh. */
  | { kind: 'reclass' }
  | { kind: 'fail'; message: string }
  | { kind: 'needs-availability' }
  | { kind: 'none' };

/** Replicas issued at once while a tile is short of θ: fewer wasted if a credible worker answers. */
export const MAX_PARALLEL = 3;
/**
 * An unanchored verdict is audited with probability AUDIT_SCALE/k (k: the checks its
 * least-checked supporter passed): certain up to k = 3, where keys that only just passed their
 * first checks could otherwise carry a tile among themselves; BOINC's 1/CV is AUDIT_SCALE = 1.
 */
export const AUDIT_SCALE = 3;

export function decide(facts: TaskFacts): Decision {
  if (facts.state === 'verified') return lateResults(facts);
  if (isPoison(facts)) return { kind: 'fail', message: poisonMessage(facts.trustedError as string, facts.attempts) };
  return facts.policy.verification === 'quorum' ? byQuorum(facts) : byCredibility(facts);
}

/**
 * Work that breaks workers: no result, `renderAttempts` replicas failed or abandoned, and one of the
 * operator's own workers reported the error. Untrusted keys alone never fail a job this way (a few
 * free keys could then fail anyone's job); without a trusted report, the job's timeout ends it.
 * A tile the operator's worker refused as too costly to trace fails at once, whatever untrusted
 * keys answered: the refusal is as deterministic as a render, so no honest worker of its class has
 * a result to give, and keys agreeing on junk would otherwise carry it (an attacker's review).
 */
const poisonMessage = (error: string, attempts: number) =>
  isTooCostly(error) ? `rendering refused: ${error}` : `rendering failed ${attempts} times: ${error}`;

const isPoison = (facts: TaskFacts): boolean => {
  if (facts.trustedError === null) return false;
  if (isTooCostly(facts.trustedError)) return !facts.results.some((r) => r.trusted);
  return facts.results.length === 0 && facts.attempts >= facts.policy.renderAttempts;
};

/** Results that arrive after the verdict are judged against it. */
function lateResults(facts: TaskFacts): Decision {
  const verdict = facts.verdict as NonNullable<TaskFacts['verdict']>;
  const late = facts.results.filter((r) => !r.settled);
  if (late.length === 0) return { kind: 'none' };
  const agree = late.filter((r) => r.cid === verdict.cid);
  const disagree = late.filter((r) => r.cid !== verdict.cid);
  if (disagree.length > 0 && !verdict.anchored && facts.reopenable) {
    // A trusted worker's dissent is ground truth against the verdict.
    if (disagree.some((r) => r.trusted)) return { kind: 'reopen' };
    if (!facts.availability) return { kind: 'needs-availability' };
    // A verdict no trusted worker backed is disputed: let one arbitrate.
    if (facts.availability.trusted > 0) return { kind: 'reopen' };
  }
  return {
    kind: 'late',
    agree: slots(agree),
    disagree: slots(disagree),
    faulty: verdict.anchored,
    checked: verdict.anchored ? slots(agree.filter((r) => !r.trusted)) : [],
  };
}

/** Past the job's timeout with no result at all, there is nothing to accept, whatever the policy. */
const NOTHING_BY_TIMEOUT: Decision = { kind: 'fail', message: 'no worker rendered the tile before the job timed out' };

function byCredibility(facts: TaskFacts): Decision {
  const { policy, results, availability } = facts;
  if (results.length === 0) {
    if (facts.now >= facts.deadlineAt) return NOTHING_BY_TIMEOUT;
    return facts.outstanding > 0 ? waitForReplicas(facts, 1) : issue(facts, 1, false);
  }
  const cids = [...new Set(results.map((r) => r.cid))];
  const groups = cids.map((cid) => results.filter((r) => r.cid === cid));
  // Unchecked workers weigh nothing, for or against: only groups with a checked (or trusted)
  // member are weighed, so free keys can neither carry a result nor cast doubt on one.
  const weights = groups.map((g) => g.map((r) => r.credibility).filter((c) => c > NO_EVIDENCE));
  const weighed = groups.map((_, i) => i).filter((i) => weights[i].length > 0);
  const crWeighed = groupCredibilities(weighed.map((i) => weights[i]));
  const cr = groups.map((_, i) => (weighed.includes(i) ? crWeighed[weighed.indexOf(i)] : 0));
  // Ground truth decides outright: the group with a trusted worker's result (the most of them, if
  // the operator's own machines disagree) is accepted whatever the rest say.
  const trustedIn = (g: readonly ResultFact[]) => g.filter((r) => r.trusted).length;
  const truth = groups
    .map((_, i) => i)
    .sort((a, b) => trustedIn(groups[b]) - trustedIn(groups[a]) || firstSlot(groups[a]) - firstSlot(groups[b]))[0];
  const leader = trustedIn(groups[truth]) > 0 ? truth : cr.indexOf(Math.max(...cr));
  const accept = (extra: Partial<Accept> = {}): Accept => ({
    kind: 'accept',
    cid: cids[leader],
    credibility: cr[leader],
    below: false,
    anchored: false,
    agree: slots(groups[leader]),
    disagree: slots(results.filter((r) => r.cid !== cids[leader])),
    faulty: false,
    checked: [],
    auditSkipped: false,
    basis: Object.fromEntries(results.map((r) => [r.worker, r.faults])),
    ...extra,
  });
  if (trustedIn(groups[leader]) > 0)
    return accept({ anchored: true, faulty: true, checked: slots(groups[leader].filter((r) => !r.trusted)) });
  const timedOut = facts.now >= facts.deadlineAt;
  // A reopened tile had been accepted: another's lie, or an arbiter that left, never fails its job
  // (a finished one, with no escrow to pay keys, would fail whenever a trusted worker left after
  // the reopen); it stands below θ, marked.
  const belowPolicy = (): Decision =>
    policy.onTimeout === 'fail' && !facts.suspect
      ? { kind: 'fail', message: `tile reached credibility ${cr[leader].toFixed(4)} of θ = ${policy.theta} and cannot get further` }
      : accept({ below: true, ...belowGroup(groups, cr, results) });

  // A dissent, or a tile reopened by backtracking, goes to a trusted worker while one is online:
  // its result is ground truth, and the liar is caught. Without one, a dispute between checked
  // workers (someone who passed checks lied) is never settled by counting them — keys are free:
  // the most-checked worker's result stands after the grace, below threshold.
  if ((cids.length > 1 || facts.suspect) && !timedOut) {
    if (!availability) return { kind: 'needs-availability' };
    if (availability.trusted > 0) {
      if (!facts.arbiterIssued) return issue(facts, 1, true, 'needs-arbiter', 1, cids.length > 1);
      return wait(facts, 'needs-arbiter', arbiterMessage(cids.length > 1), facts.now + facts.graceMs);
    }
  }
  if (weighed.length > 1) {
    const decideAt = facts.progressAt + facts.graceMs;
    if (timedOut || facts.now >= decideAt) return belowPolicy();
    if (!availability) return { kind: 'needs-availability' };
    return {
      kind: 'wait',
      idleAt: decideAt,
      waiting: {
        code: 'needs-arbiter',
        message:
          'checked workers disagree and no trusted worker is online to arbitrate: the most-checked worker’s result stands after a short grace',
        since: facts.progressAt,
        decideAt,
      },
    };
  }

  // Without a trusted worker, a tile reopened because a worker it rested on was caught is not
  // accepted again on the votes that carried it with that liar: keys that collude agree with one
  // another (bench:sybil: every wrong tile 50 keys got accepted had a caught key among its
  // supporters). It gets one more replica, from a worker outside the group: a checked worker's
  // agreement lets it stand, a dissent makes a dispute, which the most-checked worker's result
  // decides (above); an unchecked key's agreement weighs nothing, so the tile stands marked below
  // θ; a key's replica of it is the job's to pay, as any a dispute needs (bind.lua).
  const fresh = results.filter((r) => !r.settled);
  if (facts.recheck && !facts.arbiterIssued && !timedOut && cr[leader] >= policy.theta && !fresh.some((r) => r.credibility > NO_EVIDENCE)) {
    if (facts.outstanding > 0) return waitForReplicas(facts, 1, 'needs-agreement', () => accept());
    if (fresh.length > 0) return accept({ below: true });
    if (!availability) return { kind: 'needs-availability' };
    if (facts.issued < policy.maxReplicas && availability.eligible > 0) return issue(facts, 1, false, 'needs-agreement');
  }

  if (cr[leader] >= policy.theta) {
    // BOINC's adaptive replication, for any verdict no trusted worker backs: audited with
    // probability AUDIT_SCALE/k of the least-checked worker it rests on, so a group of barely
    // checked keys is always audited and proven workers rarely.
    const weakest = Math.min(...groups[leader].filter((r) => r.credibility > NO_EVIDENCE).map((r) => r.passed));
    // An audit in flight holds the verdict until it answers (or nobody can take it).
    if (!timedOut && facts.audited && facts.outstanding > 0)
      return waitForReplicas(facts, 0, 'audit', () => accept({ auditSkipped: true }));
    if (!timedOut && !facts.audited && facts.auditRoll < AUDIT_SCALE / Math.max(1, weakest)) {
      if (facts.outstanding > 0) return waitForReplicas(facts, 0, 'audit', () => accept({ auditSkipped: true }));
      if (!availability) return { kind: 'needs-availability' };
      if (availability.trusted > 0) return issue(facts, 1, true, 'audit');
      if (availability.eligible > 0) return issue(facts, 1, false, 'audit');
      return accept({ auditSkipped: true });
    }
    // Known answers come only from trusted workers, so while a class is short of them one online
    // stocks it: what it backs becomes a known answer. Without this, a trusted worker that went
    // offline left only the tiles it happened to render (often a few dozen), and an attacker lying
    // on a fixed half of the tiles was caught only as often as its half overlapped them.
    if (!timedOut && !facts.audited && facts.knownAnswersShort) {
      if (!availability) return { kind: 'needs-availability' };
      if (availability.trusted > 0) return { ...issue(facts, 1, true, 'audit'), stock: true };
    }
    return accept();
  }

  if (timedOut) return belowPolicy();
  // How many to issue at once: assume the next workers are like the checked ones seen so far (at
  // least Sarmenta's prior 1 − f), so a tile among proven workers asks for one more, not three.
  const checked = results.filter((r) => !r.trusted && r.credibility > NO_EVIDENCE).map((r) => r.credibility);
  const assumed = Math.max(1 - policy.f, checked.reduce((a, c) => a + c, 0) / Math.max(1, checked.length));
  const considered = groups.map((_, i) => i).filter((i) => i === leader || weights[i].length > 0);
  const needed = agreeingNeeded(
    considered.map((i) => weights[i]),
    considered.indexOf(leader),
    assumed,
    policy.theta,
    policy.maxReplicas,
  );
  if (facts.outstanding > 0) return waitForReplicas(facts, needed, 'needs-agreement', belowPolicy);
  const room = policy.maxReplicas - facts.issued;
  if (room <= 0) return spent(facts, belowPolicy);
  if (!availability) return { kind: 'needs-availability' };
  if (availability.eligible === 0 && facts.now - facts.progressAt >= facts.graceMs) return reclassOr(facts, belowPolicy);
  return issue(facts, Math.max(1, Math.min(needed, MAX_PARALLEL, room)), false, 'needs-agreement', needed);
}

function byQuorum(facts: TaskFacts): Decision {
  const { policy, results, availability } = facts;
  // A dissent, or a reopened tile (backtracking, a requester's re-run), goes to a trusted worker
  // while one is online, as under credibility: a replica issued to break the tie goes to whoever
  // polls first — the dissenter's colluders as likely as anyone — and counting the same votes
  // again would settle nothing.
  const disputed = new Set(results.map((r) => r.cid)).size > 1;
  if ((facts.suspect || disputed) && facts.now < facts.deadlineAt && !results.some((r) => r.trusted)) {
    if (!availability) return { kind: 'needs-availability' };
    if (availability.trusted > 0)
      return facts.arbiterIssued
        ? wait(facts, 'needs-arbiter', arbiterMessage(disputed), facts.now + facts.graceMs)
        : issue(facts, 1, true, 'needs-arbiter', 1, disputed);
  }
  // Once R results are in — or the arbiter of a dispute or a reopened tile has answered — a
  // trusted worker's result is the verdict, whatever the votes (backtracking may have left fewer than R).
  const arbitrated = facts.suspect || (disputed && facts.arbiterIssued);
  const truth = results.length >= policy.replicas || arbitrated ? results.find((r) => r.trusted)?.cid : undefined;
  const winner = truth ?? quorumWinner(results, policy.replicas);
  if (winner) {
    const agree = results.filter((r) => r.cid === winner);
    const anchored = agree.some((r) => r.trusted);
    return {
      kind: 'accept',
      cid: winner,
      credibility: null,
      below: false,
      anchored,
      agree: slots(agree),
      disagree: slots(results.filter((r) => r.cid !== winner)),
      faulty: anchored,
      checked: anchored ? slots(agree.filter((r) => !r.trusted)) : [],
      auditSkipped: false,
      basis: {},
    };
  }
  // A small farm that cannot reach R: a strict leader is accepted below the quorum, marked (a
  // reopened tile's whatever the policy, as under credibility).
  const belowPolicy = (): Decision => {
    const top = tally(results);
    if ((policy.onTimeout === 'accept' || facts.suspect) && top && top.votes > top.next) {
      const agree = results.filter((r) => r.cid === top.cid);
      return {
        kind: 'accept',
        cid: top.cid,
        credibility: null,
        below: true,
        anchored: false,
        agree: slots(agree),
        disagree: slots(results.filter((r) => r.cid !== top.cid)),
        faulty: false,
        checked: [],
        auditSkipped: false,
        basis: {},
      };
    }
    return { kind: 'fail', message: `no majority among ${results.length} results and no further worker to ask` };
  };
  const needed = Math.max(1, policy.replicas - results.length);
  if (facts.now >= facts.deadlineAt) return results.length > 0 ? belowPolicy() : NOTHING_BY_TIMEOUT;
  if (facts.outstanding > 0) return waitForReplicas(facts, needed, 'needs-agreement', belowPolicy);
  if (facts.issued >= policy.maxReplicas)
    return spent(facts, () => ({ kind: 'fail', message: `no majority among ${results.length} replicas` }));
  return issue(facts, needed, false, 'needs-agreement', needed);
}

/**
 * Replicas are out. If workers hold them all, their answers will come (or their leases lapse);
 * if some wait in a queue that no eligible worker can take from, the tile is starved, and after
 * the grace it is decided with what it has.
 */
function waitForReplicas(facts: TaskFacts, needed: number, code: TileWait['code'] = 'rendering', starved?: () => Decision): Decision {
  const message =
    code === 'needs-agreement'
      ? `needs ${needed} more agreeing result${needed === 1 ? '' : 's'} from independent workers`
      : code === 'audit'
        ? 'the verdict is being audited by another worker'
        : `${facts.outstanding} replica${facts.outstanding === 1 ? '' : 's'} out`;
  if (facts.held >= facts.outstanding) return wait(facts, code, message, null);
  if (!facts.availability) return { kind: 'needs-availability' };
  // An arbiter's slot nobody holds waits in a queue only trusted workers take: with none online
  // (the last one left after it was issued), nobody will, so it is not waited for.
  const stranded = facts.arbiterUnheld && facts.availability.trusted === 0;
  const queued = facts.outstanding - facts.held - (stranded ? 1 : 0);
  if (queued <= 0 && facts.held > 0) return wait(facts, code, message, null);
  if (queued > 0 && facts.availability.eligible > 0) return wait(facts, code, message, facts.now + facts.graceMs);
  const decideAt = facts.progressAt + facts.graceMs;
  if (starved && facts.now >= decideAt && facts.results.length > 0)
    return code === 'needs-agreement' ? reclassOr(facts, starved) : starved();
  return {
    kind: 'wait',
    idleAt: facts.results.length > 0 ? Math.max(decideAt, facts.now + 1) : null,
    waiting: {
      code: 'no-eligible-worker',
      message: `${message}; no ${stranded ? 'trusted' : 'further eligible'} worker is online${facts.results.length > 0 ? ', so it is decided with what it has after a short grace' : ''}`,
      since: facts.progressAt,
      decideAt: facts.results.length > 0 ? decideAt : null,
    },
  };
}

/**
 * A tile short of θ and starved in its class (nobody of it can take a replica), while another
 * class has a trusted worker online, which can render it and has ground truth there: opened to
 * the others (reclass.lua), unless a trusted or an accepted result is among its own (those stand)
 * or an arbiter was sent for. Not on any worker of another class: one without free stake, or a
 * key that only beats, had had honest results set aside for nothing, and got that class set
 * aside in turn (an attacker's review). While a worker of its class holds a replica it waits,
 * a grace at a time, until that one answers or is let go at its deadline: an honest holder's
 * render is not cut off, and a second key that holds one and beats does not get the first's
 * junk decided below θ (a second review).
 */
function reclassOr(facts: TaskFacts, starved: () => Decision): Decision {
  const own = facts.results.some((r) => r.trusted || r.settled);
  const open = facts.classed && !own && !facts.suspect && !facts.arbiterIssued && (facts.availability?.elsewhere ?? 0) > 0;
  if (!open) return starved();
  if (facts.held > 0)
    return wait(facts, 'needs-agreement', 'no further worker of its class; waiting for those rendering it', facts.now + facts.graceMs);
  return { kind: 'reclass' };
}

/**
 * A tile whose class spent its budget of replicas: decided there, or, when nobody else of its
 * class could take one either, opened to the other classes as a starved one is (keys of a rare
 * class answering junk had spent it: a review). Not while others of its class are online: honest
 * keys too new to weigh spend it too, and their tile stands below θ, paid, as before (a second).
 */
function spent(facts: TaskFacts, decided: () => Decision): Decision {
  if (!facts.classed) return decided();
  if (!facts.availability) return { kind: 'needs-availability' };
  return facts.availability.eligible === 0 ? reclassOr(facts, decided) : decided();
}

const arbiterMessage = (disputed: boolean) =>
  disputed
    ? 'results disagree: one of the operator’s trusted workers arbitrates'
    : 'reopened: one of the operator’s trusted workers checks it again';

function wait(facts: TaskFacts, code: TileWait['code'], message: string, idleAt: number | null): Decision {
  return { kind: 'wait', idleAt, waiting: { code, message, since: facts.progressAt, decideAt: null } };
}

function issue(
  facts: TaskFacts,
  count: number,
  arbiter: boolean,
  code: TileWait['code'] = 'rendering',
  needed = count,
  disputed = true,
): Extract<Decision, { kind: 'issue' }> {
  const message =
    code === 'needs-arbiter'
      ? arbiterMessage(disputed)
      : code === 'audit'
        ? 'the verdict is being audited by another worker'
        : `needs ${needed} more agreeing result${needed === 1 ? '' : 's'} from independent workers`;
  return {
    kind: 'issue',
    count,
    arbiter,
    audit: code === 'audit',
    stock: false,
    waiting: { code, message, since: facts.now, decideAt: null },
  };
}

/**
 * Below θ the farm takes the group whose best member has passed the most checks, then the one
 * with the higher group credibility, then the earliest result: never simply the larger group,
 * which free keys could make — an attacker must out-check the best honest worker, which costs
 * honest work, not out-number it.
 */
function belowGroup(groups: readonly (readonly ResultFact[])[], cr: readonly number[], results: readonly ResultFact[]): Partial<Accept> {
  const best = (g: readonly ResultFact[]) => Math.max(...g.map((r) => r.credibility));
  const [chosen] = groups
    .map((_, i) => i)
    .sort((a, b) => best(groups[b]) - best(groups[a]) || cr[b] - cr[a] || firstSlot(groups[a]) - firstSlot(groups[b]));
  return {
    cid: groups[chosen][0].cid,
    credibility: cr[chosen],
    agree: slots(groups[chosen]),
    disagree: slots(results.filter((r) => r.cid !== groups[chosen][0].cid)),
  };
}

const slots = (results: readonly { slot: number }[]): number[] => results.map((r) => r.slot);
const firstSlot = (results: readonly { slot: number }[]): number => Math.min(...results.map((r) => r.slot));
