/** The orchestrator's HTTP API (express 5: rejected async handlers reach the error handler). */
import express from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Metrics } from '../metrics.ts';
import type { Ledger } from '../state/ledger.ts';
import type { Tokens } from '../state/tokens.ts';
import type { Workers } from '../state/workers.ts';
import { ADMIN_QUEUES_PATH, type QueueBoard } from './admin.ts';
import { requireOperator, requireRequester, requireWorker } from './auth.ts';
import { creditRoutes } from './credits.ts';
import { dashboardRoutes } from './dashboard.ts';
import { type JobRoutesDeps, jobRoutes } from './jobs.ts';
import { HttpError, problemHandler } from './problem.ts';
import { sceneRoutes } from './scenes.ts';
import { sessionRoutes } from './session.ts';
import { type WorkRoutesDeps, workRoutes } from './work.ts';
import { workerRoutes } from './workers.ts';

export interface AppDeps extends JobRoutesDeps, WorkRoutesDeps {
  ledger: Ledger;
  redis: Redis;
  tokens: Tokens;
  workers: Workers;
  log: Logger;
  metrics: Metrics;
  board: QueueBoard;
  scenesDir: string;
  dashboardDir: string;
  maxSceneBytes: number;
  maxResultBytes: number;
  /** How often workers should heartbeat: a third of the lease. */
  heartbeatMs: number;
}

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(
    pinoHttp({
      logger: deps.log,
      // Method and URL only: headers carry API tokens and signatures.
      serializers: { req: (req) => ({ id: req.id, method: req.method, url: req.url }), res: (res) => ({ status: res.statusCode }) },
      autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/api/work/') || req.method === 'GET' },
    }),
  );

  app.get('/healthz', async (_req, res) => {
    await deps.redis.ping();
    res.json({ ok: true });
  });

  /** Prometheus scrape target: counts and depths only, no job or worker data beyond the public. */
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  const requester = requireRequester(deps.tokens);
  app.use(ADMIN_QUEUES_PATH, requester, requireOperator, deps.board.router);
  app.use('/api/session', express.json({ limit: 4096 }), sessionRoutes(deps.tokens, requester));
  app.use('/api/scenes', requester, sceneRoutes(deps.scenesDir));
  app.use('/api/jobs', express.json({ limit: deps.maxSceneBytes }), requester, jobRoutes(deps));
  app.post('/api/tokens', express.json(), requester, requireOperator, async (req, res) => {
    const name = String(req.body?.name ?? 'requester').slice(0, 64);
    const { token, principal } = await deps.tokens.mint(name);
    res.status(201).json({ token, owner: principal.owner, name });
  });
  app.use('/api', creditRoutes(deps.ledger, deps.workers, requester));
  // Signed routes need the exact body bytes, so they read it raw.
  app.use(
    '/api/workers',
    express.raw({ type: () => true, limit: 64 * 1024 }),
    workerRoutes(deps.workers, deps.tokens, deps.ledger, deps.heartbeatMs),
  );
  app.use('/api/work', express.raw({ type: () => true, limit: deps.maxResultBytes }), requireWorker(deps.workers), workRoutes(deps));

  app.use(dashboardRoutes(deps.dashboardDir));

  app.use((req) => {
    throw new HttpError(404, 'Not found', `no route ${req.method} ${req.path}`);
  });
  app.use(problemHandler);
  return app;
}
