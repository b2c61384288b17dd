/** `farm orchestrator`: the HTTP API and scheduler. */
import { configFromEnv, OrchestratorConfig } from '../orchestrator/config.ts';
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
  // Every setting of orchestrator/config.ts also comes from FARM_<SETTING> (README).
  const config = OrchestratorConfig.parse({
    ...configFromEnv(env),
    port: flags.port,
    host: flags.host,
    ...(flags.redis ? { redisUrl: flags.redis } : {}),
    dataDir: flags.data,
  });
  const farm = await startOrchestrator(config);
  if (!env.FARM_TOKEN)
    process.stderr.write(`operator token (set FARM_TOKEN to keep it): ${farm.token}\ndashboard: ${dashboardLink(farm.url, farm.token)}\n`);
  onShutdown(() => farm.close());
}
