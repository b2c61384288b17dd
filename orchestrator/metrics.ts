/**
 * Prometheus metrics (prom-client) for GET /metrics. Counters and the render-time histogram are
 * fed where things happen; gauges (tasks, queue depths, connected workers) are read from Redis at
 * scrape time, so they are right after a restart. One registry per orchestrator, not prom-client's
 * global one, so that several can live in one process (tests).
 */
import type { Queue } from 'bullmq';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { StorageFacts } from './storage.ts';

export type Verdict = 'agreed' | 'disputed' | 'rejected' | 'failed';

export interface MetricSources {
  storage(): Promise<StorageFacts>;
  /** Tiles of queued and running jobs, by state. */
  tileCounts(): Promise<{ pending: number; verified: number }>;
  connectedWorkers(): Promise<number>;
  queues(): Iterable<Queue>;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

export class Metrics {
  readonly registry = new Registry();
  private readonly replicasIssued = new Counter({
    name: 'farm_replicas_issued_total',
    help: 'Replicas handed to workers, by determinism class; spot checks are kind="spot"',
    labelNames: ['class', 'kind'],
    registers: [this.registry],
  });
  private readonly verdicts = new Counter({
    name: 'farm_verdicts_total',
    help: 'Verdicts on tiles (agreed, disputed: some replica disagreed, failed: no verdict possible) and on uploads (rejected: forged or malformed)',
    labelNames: ['verdict'],
    registers: [this.registry],
  });
  private readonly deletions = new Counter({
    name: 'farm_deleted_total',
    help: 'What retention deleted: ended jobs, unreferenced blobs, ledger entries past the cap',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly dutyRuns = new Counter({
    name: 'farm_duty_runs_total',
    help: 'Periodic duties this orchestrator ran (each runs once per period across the farm: duties.ts)',
    labelNames: ['duty'],
    registers: [this.registry],
  });
  private readonly webhookDeliveries = new Counter({
    name: 'farm_webhook_deliveries_total',
    help: 'Webhook delivery attempts: delivered (2xx) or failed; dropped: deliveries given up (every attempt failed, or the hook was disabled or had too many pending)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly renderSeconds = new Histogram({
    name: 'farm_render_seconds',
    help: 'Time from handing a replica to a worker to receiving its accepted result, by determinism class',
    labelNames: ['class'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'farm_orchestrator_' });
    new Gauge({
      name: 'farm_tasks',
      help: 'Tiles of queued and running jobs, by state',
      labelNames: ['state'],
      registers: [this.registry],
      async collect() {
        const counts = await sources.tileCounts();
        this.set({ state: 'pending' }, counts.pending);
        this.set({ state: 'verified' }, counts.verified);
      },
    });
    new Gauge({
      name: 'farm_queue_depth',
      help: 'BullMQ jobs per queue and state (replica slots, planning, stitching)',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const queue of sources.queues()) {
          const counts = await queue.getJobCounts(...QUEUE_STATES);
          for (const state of QUEUE_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
        }
      },
    });
    new Gauge({
      name: 'farm_storage_bytes',
      help: 'Free space in the data directory, and Redis memory used and its maxmemory (0: none)',
      labelNames: ['kind'],
      registers: [this.registry],
      async collect() {
        const facts = await sources.storage();
        this.set({ kind: 'disk_free' }, facts.freeBytes);
        this.set({ kind: 'redis_used' }, facts.redisUsedBytes);
        this.set({ kind: 'redis_max' }, facts.redisMaxBytes);
      },
    });
    new Gauge({
      name: 'farm_workers_connected',
      help: 'Workers seen within the online window (two leases)',
      registers: [this.registry],
      async collect() {
        this.set(await sources.connectedWorkers());
      },
    });
  }

  replicaIssued(deviceClass: string, spot: boolean): void {
    this.replicasIssued.inc({ class: deviceClass, kind: spot ? 'spot' : 'replica' });
  }

  verdict(verdict: Verdict): void {
    this.verdicts.inc({ verdict });
  }

  deleted(kind: 'jobs' | 'blobs' | 'ledger_entries', count: number): void {
    this.deletions.inc({ kind }, count);
  }

  dutyRun(duty: string): void {
    this.dutyRuns.inc({ duty });
  }

  webhook(outcome: 'delivered' | 'failed' | 'dropped'): void {
    this.webhookDeliveries.inc({ outcome });
  }

  rendered(deviceClass: string, seconds: number): void {
    this.renderSeconds.observe({ class: deviceClass }, seconds);
  }
}
