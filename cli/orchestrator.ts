/** `farm orchestrator`: the HTTP API and scheduler. */
import { OrchestratorConfig } from '../orchestrator/config.ts';
import { startOrchestrator } from '../orchestrator/server.ts';
import { onShutdown } from './shutdown.ts';

export interface OrchestratorFlags {
  port: string;
  host: string;
  redis?: string;
  data: string;
}

/** The dashboard's address with the token in the fragment: the page signs in and forgets it. */
export const dashboardLink = (url: string, token: string): string => `${url}/#token=${encodeURIComponent(token)}`;

export async function orchestratorCommand(flags: OrchestratorFlags): Promise<void> {
  const env = process.env;
  const config = OrchestratorConfig.parse({
    port: flags.port,
    host: flags.host,
    redisUrl: flags.redis ?? env.REDIS_URL,
    dataDir: flags.data,
    token: env.FARM_TOKEN,
    leaseMs: env.FARM_LEASE_MS,
    taskTimeoutMs: env.FARM_TASK_TIMEOUT_MS,
    pollMs: env.FARM_POLL_MS,
    spotCheckRate: env.FARM_SPOT_CHECK_RATE,
    stakePerTaskCents: env.FARM_STAKE_PER_TASK_CENTS,
    probationTasks: env.FARM_PROBATION_TASKS,
    logLevel: env.LOG_LEVEL,
  });
  const farm = await startOrchestrator(config);
  if (!env.FARM_TOKEN)
    process.stderr.write(`operator token (set FARM_TOKEN to keep it): ${farm.token}\ndashboard: ${dashboardLink(farm.url, farm.token)}\n`);
  onShutdown(() => farm.close());
}
