/** Orchestrator settings: flags and environment, validated once, with their defaults here. */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const OrchestratorConfig = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  host: z.string().default('127.0.0.1'),
  redisUrl: z.string().url().default('redis://127.0.0.1:6379'),
  dataDir: z.string().default('.farm/data'),
  /** Operator token; generated and printed when absent. */
  token: z.string().min(8).optional(),
  /** A worker's lease on a replica; heartbeats renew it. A dead worker loses its replicas after this. */
  leaseMs: z.coerce.number().int().min(200).default(30_000),
  /** The most time a worker may spend on one replica before it is given to another. */
  taskTimeoutMs: z.coerce
    .number()
    .int()
    .min(500)
    .default(10 * 60_000),
  /** How long a worker's poll for work waits before answering 204. */
  pollMs: z.coerce.number().int().min(10).default(20_000),
  /** Largest scene upload. */
  maxSceneBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .default(32 * 1024 * 1024),
  /** Largest result upload (a 512×512 tile is 1 MiB). */
  maxResultBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .default(2 * 1024 * 1024),
  /** Credits (in cents) a valid replica earns, paid from the treasury while it is funded. */
  rewardCents: z.coerce.number().int().min(0).default(100),
  /** Stake (cents) a worker must hold per replica in flight once past probation; 0 disables it. */
  stakePerTaskCents: z.coerce.number().int().min(0).default(1000),
  /** Share of a task's stake a wrong result loses, paid to the honest co-replicators. */
  slashShare: z.coerce.number().min(0).max(1).default(1),
  /** Cost (cents) of a missed deadline, from stake then balance. */
  deadlinePenaltyCents: z.coerce.number().int().min(0).default(50),
  /** Replicas a new worker may take before it must deposit stake. */
  probationTasks: z.coerce.number().int().min(0).default(100),
  /** Fraction q of an untrusted worker's polls answered with a spot check. */
  spotCheckRate: z.coerce.number().min(0).max(1).default(0.05),
  /** Assumed fraction of saboteurs f in the credibility model (Sarmenta's default). */
  saboteurFraction: z.coerce.number().gt(0).lt(1).default(0.2),
  /** Sample scenes offered by the dashboard. */
  scenesDir: z.string().default(fileURLToPath(new URL('../scenes', import.meta.url))),
  /** The dashboard's build output (`npm run build`). */
  dashboardDir: z.string().default(fileURLToPath(new URL('../dashboard/dist', import.meta.url))),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type OrchestratorConfig = z.infer<typeof OrchestratorConfig>;
