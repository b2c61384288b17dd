/**
 * The one place verdicts are carried out: load a task's facts, `decide`, settle the decision in
 * one Lua script (which refuses it if the task changed meanwhile: then judge again), and apply its
 * effects — issue replicas, stitch a completed frame, wind down a failed job, backtrack what a
 * caught worker vouched for. Uploads, the small-farm grace, job timeouts and crash recovery judge
 * through `judge`, one judgement of a task at a time in a process; backtracking, which runs inside
 * a judgement, through `judgeNow`.
 */
import type { Logger } from 'pino';
import { isTooCostly } from '../../shared/render-units.ts';
import { crashPoint } from '../crash-points.ts';
import type { Dispatcher } from '../dispatch.ts';
import { shareCap } from '../dispatch.ts';
import type { Metrics } from '../metrics.ts';
import type { AvailabilityReader } from '../state/availability.ts';
import { endedEarly, type JobPlan, type Jobs } from '../state/jobs.ts';
import type { KnownAnswers } from '../state/known-answers.ts';
import type { ReplicaRecord, Settlement, TaskRecord, Tasks } from '../state/tasks.ts';
import type { WorkerRecord, Workers } from '../state/workers.ts';
import { NO_EVIDENCE, TRUSTED_CREDIBILITY } from './credibility.ts';
import { type Decision, decide, type TaskFacts } from './decide.ts';
import { OneAtATime } from './one-at-a-time.ts';

export interface RunnerDeps {
  tasks: Tasks;
  jobs: Jobs;
  workers: Workers;
  dispatch: Dispatcher;
  availability: AvailabilityReader;
  knownAnswers: Pick<KnownAnswers, 'short' | 'reserve'>;
  /** Assumed saboteur fraction f. */
  saboteurFraction: number;
  /** How long a tile that cannot progress waits before it is decided with what it has. */
  graceMs: number;
  /** Failed or abandoned replicas after which a tile nobody rendered fails. */
  renderAttempts: number;
  jobShare: number;
  jobShareFloor: number;
  /** A frame's tiles are all verified (its nth completion): stitch it. */
  onFrameVerified: (job: string, frame: number, completion: number) => Promise<void>;
  /** A job failed: wind down what is still out. */
  onJobFailed: (job: string) => Promise<void>;
  metrics: Metrics;
  log: Logger;
}

/**
 * Backtracking asks for a fresh result on a tile that still stands at θ without the caught worker
 * (decide.ts `recheck`) only for the caught key's newest verdicts of the last hour: what one key
 * can have re-rendered by getting itself caught is bounded.
 */
const RECHECK_MS = 3600_000;
const RECHECK_MOST = 32;

/** A judgement retries when the task changed under it; more than this means something is wrong. */
const MAX_ATTEMPTS = 25;

export class VerdictRunner {
  /**
   * One judgement of a task at a time in this process. A task's replicas' results come in
   * together: judged side by side, all but one found the task changed under them and judged again.
   * A call whose change the judgement under way has read needs no judgement of its own.
   */
  private readonly judgements = new OneAtATime<string>((task, reading) => this.judgeNow(task, reading));

  constructor(private readonly deps: RunnerDeps) {}

  /** Judges a task from its current records and applies the decision: settles as the first judgement that read the task after this call ends. */
  judge(taskId: string): Promise<void> {
    return this.judgements.run(taskId);
  }

  /** One judgement; `reading` is called as each read of the task is sent. */
  private async judgeNow(taskId: string, reading: () => void = () => undefined): Promise<void> {
    const { tasks, jobs, log } = this.deps;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      reading();
      const snapshot = await tasks.snapshot(taskId);
      const job = snapshot && (await jobs.plan(snapshot.task.job));
      const draining = snapshot?.task.draining === true && endedEarly(snapshot.jobState);
      if (
        !snapshot ||
        !job ||
        snapshot.task.state === 'failed' ||
        snapshot.task.state === 'closed' ||
        (snapshot.task.state === 'pending' && snapshot.jobState !== 'running' && !draining)
      ) {
        if (!snapshot) await tasks.forgetIdle(taskId);
        else if (snapshot.lookAt !== null) await tasks.forgetIdle(taskId, snapshot.lookAt);
        return;
      }
      const { task, replicas } = snapshot;
      const facts = await this.facts(
        task,
        job,
        { deadlineAt: snapshot.deadlineAt, state: snapshot.jobState },
        replicas,
        this.deps.workers.fromFields(snapshot.workerFields),
      );
      if (draining) {
        if (await this.drain(task, job, facts, replicas, snapshot.jobState)) return;
        continue;
      }
      let decision = await this.decideWithAvailability(facts, task, job);
      // A class has only a few stocking audits out at once: past them, the verdict goes on without one.
      if (decision.kind === 'issue' && decision.stock && !(await this.deps.knownAnswers.reserve(task.class, task.id).catch(() => false)))
        decision = await this.decideWithAvailability({ ...facts, knownAnswersShort: false }, task, job);
      if (decision.kind === 'reopen') {
        if (await tasks.reopen(task, '')) {
          log.warn({ job: job.id, task: taskId }, 'a late result disputes an unanchored verdict: reopened for arbitration');
          continue;
        }
        // Not reopened (its deletion was asked for, or it changed meanwhile): judged late, its verdict standing.
        decision = await this.decideWithAvailability({ ...facts, reopenable: false }, task, job);
        if (decision.kind === 'reopen') throw new Error('decide reopened what may not be reopened');
      }
      if (decision.kind === 'none') {
        if (snapshot.lookAt !== null) await tasks.forgetIdle(taskId, snapshot.lookAt);
        return;
      }
      if (decision.kind === 'reclass') {
        if (await tasks.reclass(task)) {
          await this.deps.dispatch.unpinned(task.id, task.class);
          log.warn({ job: job.id, task: taskId, class: task.class }, 'tile starved in its class: opened to the others');
        }
        continue;
      }
      if (decision.kind === 'needs-availability') throw new Error('decide asked for availability twice');
      // A slot that a poll (or an orchestrator killed while polling) held as the tile was opened
      // to the other classes went back to the queue of a class set aside for it, where no poll
      // that may take it looks: each look of the tile moves such slots on, and it is looked at
      // after each grace while it waits, whoever is online (a review).
      if (decision.kind === 'wait' && !task.class && task.excluded.length > 0) {
        for (const c of task.excluded)
          await this.deps.dispatch.unpinned(task.id, c).catch((err) => log.warn({ err, task: taskId }, 'could not move its slots on'));
        decision = { ...decision, idleAt: decision.idleAt ?? Date.now() + this.deps.graceMs };
      }
      if (await this.apply(task, job, decision)) return;
    }
    log.error({ task: taskId }, 'task kept changing while being judged; the next event judges it again');
  }

  /**
   * Backtracking: every unanchored verdict (at θ or accepted below it) that rested on a caught
   * worker's word is weighed again without it, with a trusted worker to arbitrate where one is
   * online; verdicts that no longer stand at θ are reopened (frames are re-stitched, a finished
   * job runs again), and, with no trusted worker online, the caught key's recent ones that still
   * stand, for a recheck (decide.ts `recheck`); but a finished job's tile that only keys could
   * render again is marked accepted below θ instead (reopen.lua: its job, which pays for keys'
   * replicas, holds no escrow). The vouched tasks are forgotten only once all of
   * them are weighed: a crash part-way leaves the backtracking due, and the sweep runs it again
   * (a task reopened already is pending, and skipped).
   */
  async backtrack(caught: string): Promise<number> {
    const { tasks, jobs, log } = this.deps;
    crashPoint('before-backtrack');
    let reopened = 0;
    const due = await tasks.vouched(caught);
    const vouched = (await Promise.all(due.tasks.map((id) => tasks.get(id)))).filter(
      (t): t is TaskRecord => t !== undefined && t.state === 'verified' && !t.anchored,
    );
    const since = Date.now() - RECHECK_MS;
    const recheck = new Set(
      vouched
        .filter((t) => (t.decidedAt ?? 0) >= since)
        .sort((a, b) => (b.decidedAt ?? 0) - (a.decidedAt ?? 0))
        .slice(0, RECHECK_MOST)
        .map((t) => t.id),
    );
    for (const task of vouched) {
      const id = task.id;
      const job = await jobs.plan(task.job);
      if (!job) continue;
      const replicas = (await tasks.replicas(id)).filter((r) => r.worker !== caught);
      const progress = await jobs.progress(task.job);
      const { trusted } = await this.deps.availability.of(task, shareCap(job.tilesTotal, this.deps.jobShare, this.deps.jobShareFloor));
      const facts = {
        ...(await this.facts(task, job, { deadlineAt: progress.deadlineAt, state: progress.state ?? '' }, replicas)),
        state: 'pending' as const,
        verdict: null,
        suspect: true,
        // A finished job's tile only keys could render again is marked, not reopened (reopen.lua):
        // one that still stands without the caught worker keeps its verdict.
        recheck: recheck.has(id) && (progress.state !== 'done' || trusted > 0),
      };
      const again = await this.decideWithAvailability(facts, task, job);
      if (again.kind === 'accept' && again.cid === task.cid && !again.below) continue;
      const outcome = await tasks.reopen(task, caught, trusted > 0);
      if (outcome === 'marked')
        log.warn(
          { job: job.id, task: id, caught },
          'backtracking: a tile marked below θ, not reopened (its job ended, or finished with no trusted worker online)',
        );
      if (outcome !== 'reopened') continue;
      reopened++;
      log.warn({ job: job.id, task: id, caught }, 'backtracking: tile reopened');
      // Not through judge(): backtracking runs inside a judgement (of this very task, or of one
      // whose own backtracking waits for this one), which a queued judgement would wait for.
      await this.judgeNow(id);
    }
    await tasks.backtracked(caught, due.tasks, due.caughtAt);
    return reopened;
  }

  /**
   * A cancelled or failed job's tile that had replicas out when the job ended (includes/drain.lua),
   * judged on what they answer and nothing more: its workers are paid where the verdict stands
   * without more work (accepted at the job's policy, not below it unless its timeout had accepted
   * it so); it waits while a replica is still held, until its deadline at the latest; else it
   * closes, unpaid, as the job's other tiles did. False when the task changed meanwhile.
   */
  private async drain(
    task: TaskRecord,
    job: JobPlan,
    facts: TaskFacts,
    replicas: readonly ReplicaRecord[],
    jobState: string,
  ): Promise<boolean> {
    const decision = await this.decideWithAvailability(facts, task, job);
    // Below θ only where the running job would have taken it so: past its timeout, under onTimeout 'accept'.
    const timedOut = job.onTimeout === 'accept' && facts.now >= facts.deadlineAt;
    if (decision.kind === 'accept' && (!decision.below || timedOut)) return this.apply(task, job, decision);
    // Whatever else it would do (a dispute's arbiter, an audit), nothing more is issued: it waits
    // for what is held.
    const held = replicas.filter((r) => !r.spot && r.state === 'assigned');
    if (held.length > 0) {
      // BullMQ's stalled check times out a holder that stops beating; its deadline ends it anyway.
      const overdue = held.filter((r) => r.deadline <= facts.now);
      for (const r of overdue) await this.deps.tasks.expire(task.id, r.n, r.rid);
      if (overdue.length > 0) return false;
      const waiting = {
        code: 'rendering' as const,
        message: `job ${jobState}: ${held.length} replica${held.length === 1 ? '' : 's'} out`,
        since: task.progressAt,
        decideAt: null,
      };
      return this.apply(task, job, { kind: 'wait', waiting, idleAt: Math.min(...held.map((r) => r.deadline)) });
    }
    const closed = await this.deps.tasks.closeDrained(task);
    if (closed) this.deps.log.info({ job: job.id, task: task.id }, 'an ended job’s tile closed: its results did not stand');
    return closed;
  }

  private async decideWithAvailability(facts: TaskFacts, task: TaskRecord, job: JobPlan): Promise<Decision> {
    const first = decide(facts);
    if (first.kind !== 'needs-availability') return first;
    const availability = await this.deps.availability.of(task, shareCap(job.tilesTotal, this.deps.jobShare, this.deps.jobShareFloor));
    return decide({ ...facts, availability });
  }

  /** `records`: the workers' records read with the replicas (task-snapshot.lua); any the verdict weighs and it lacks are read here. */
  private async facts(
    task: TaskRecord,
    job: JobPlan,
    progress: { deadlineAt: number; state: string },
    replicas: readonly ReplicaRecord[],
    records = new Map<string, WorkerRecord>(),
  ): Promise<TaskFacts> {
    const voting = replicas.filter((r) => !r.spot && r.cid && (r.state === 'submitted' || r.state === 'valid'));
    // Every holder a slot has had, for the attempts that failed or were abandoned.
    const holders = replicas.filter((r) => !r.spot).flatMap((r) => [r, ...(r.previous ?? [])]);
    const gaveUp = holders.filter((r) => r.state === 'failed' || r.state === 'timedout');
    const missing = [...voting, ...gaveUp].map((r) => r.worker).filter((id) => !records.has(id));
    for (const [id, w] of await this.deps.workers.getMany(missing)) records.set(id, w);
    return {
      policy: {
        verification: job.verification,
        theta: 1 - job.epsilon,
        f: this.deps.saboteurFraction,
        replicas: job.replicas,
        maxReplicas: job.maxReplicas,
        onTimeout: job.onTimeout,
        renderAttempts: this.deps.renderAttempts,
      },
      state: task.state === 'verified' ? 'verified' : 'pending',
      verdict: task.state === 'verified' && task.cid ? { cid: task.cid, anchored: task.anchored, below: task.below } : null,
      issued: task.issued,
      outstanding: task.outstanding,
      held: replicas.filter((r) => !r.spot && r.state === 'assigned').length,
      results: voting.map((r) => {
        const w = records.get(r.worker);
        // Credibility is per class: a worker that has since moved to another class is unchecked here.
        const credibility = w?.trusted ? TRUSTED_CREDIBILITY : w && w.class === task.class ? this.deps.workers.credibility(w) : NO_EVIDENCE;
        return {
          slot: r.n,
          worker: r.worker,
          cid: r.cid as string,
          settled: r.state === 'valid',
          credibility,
          trusted: w?.trusted === true,
          passed: w?.passed ?? 0,
          faults: w?.faults ?? 0,
        };
      }),
      suspect: task.suspect,
      arbiterIssued: task.arbiterSlot !== null,
      arbiterUnheld: task.arbiterSlot !== null && !replicas.some((r) => r.n === task.arbiterSlot && (r.state === 'assigned' || r.cid)),
      audited: task.audited,
      auditRoll: task.auditRoll,
      knownAnswersShort: await this.deps.knownAnswers.short(task.class),
      // A reopened tile judged after its reopen: backtracking reopened it only if recent.
      recheck: task.suspect,
      now: Date.now(),
      progressAt: task.progressAt,
      graceMs: this.deps.graceMs,
      deadlineAt: progress.deadlineAt,
      reopenable: progress.state === 'running' || progress.state === 'done',
      classed: task.class !== '',
      attempts: gaveUp.length,
      trustedError: trustedErrorOf(gaveUp.filter((r) => r.state === 'failed' && records.get(r.worker)?.trusted)),
    };
  }

  /** Settles the decision and applies its effects; false when it was stale (judge again). */
  private async apply(task: TaskRecord, job: JobPlan, decision: Settlement): Promise<boolean> {
    const { tasks, jobs, dispatch, metrics, log } = this.deps;
    const settled = await tasks.settle(task, decision, job.tilesPerFrame, job.verification === 'credibility');
    if (settled.status === 'stale') return false;
    if (settled.status === 'verified') crashPoint('after-settle');
    switch (decision.kind) {
      case 'accept':
        metrics.verdict(decision.disagree.length > 0 ? 'disputed' : 'agreed');
        log.info(
          {
            job: job.id,
            task: task.id,
            cid: decision.cid,
            credibility: decision.credibility,
            anchored: decision.anchored,
            below: decision.below,
          },
          decision.below ? 'tile accepted below threshold' : 'tile verified',
        );
        if (settled.value > 0) await this.deps.onFrameVerified(job.id, task.frame, settled.value);
        break;
      case 'late':
        if (decision.disagree.length > 0) metrics.verdict('disputed');
        break;
      case 'issue': {
        log.info({ job: job.id, task: task.id, issue: decision.count, arbiter: decision.arbiter }, 'issuing more replicas');
        // Ranked as the job stands now: its priority may have changed since it was planned.
        const rank = await jobs.rank(job.id);
        if (rank) {
          const ns = Array.from({ length: decision.count }, (_, i) => settled.value + i);
          await dispatch.issue(task.id, ns, task.class, rank, decision.arbiter);
        }
        break;
      }
      case 'fail':
        metrics.verdict('failed');
        log.error({ job: job.id, task: task.id, reason: decision.message }, 'tile cannot be verified; job failed');
        await this.deps.onJobFailed(job.id);
        break;
      case 'wait':
        break;
    }
    // After the verdict's own effects: what the caught workers vouched for is weighed again.
    for (const worker of settled.caught) await this.backtrack(worker);
    return true;
  }
}

/** The render error the operator's workers reported on a tile: a refusal as too costly first (decide.ts acts on it alone). */
const trustedErrorOf = (failed: readonly { error?: string | null }[]): string | null => {
  const errors = failed.map((r) => r.error ?? '').filter(Boolean);
  return errors.find(isTooCostly) ?? errors[0] ?? null;
};
