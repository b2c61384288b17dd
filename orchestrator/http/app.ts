/**
 * The orchestrator's HTTP API (express 5: rejected async handlers reach the error handler).
 * Every route authenticates before it reads a body, and every body parser has a limit.
 */
import express from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { type ClassList, type FarmInfo, MAX_BATCH } from '../../shared/protocol.ts';
import type { OrchestratorConfig } from '../config.ts';
import type { LeaseTerms } from '../lease-terms.ts';
import type { Metrics } from '../metrics.ts';
import type { Classes } from '../state/classes.ts';
import type { Ledger } from '../state/ledger.ts';
import type { FarmRedis } from '../state/redis.ts';
import type { Tokens } from '../state/tokens.ts';
import type { Workers } from '../state/workers.ts';
import type { Tolerance } from '../verdict/tolerance.ts';
import { ADMIN_QUEUES_PATH, type QueueBoard } from './admin.ts';
import { type AssetRoutesDeps, assetRoutes } from './assets.ts';
import { AuthGate, authenticateWorker, requireOperator, requireRequester, verifyBody } from './auth.ts';
import { boundBodies, readJson, readRaw, refuseEncodedBodies } from './bodies.ts';
import { creditRoutes } from './credits.ts';
import { dashboardRoutes } from './dashboard.ts';
import { reservationRoutes } from './forwards.ts';
import { type JobRoutesDeps, jobRoutes } from './jobs.ts';
import { addressOf, limitBy } from './limits.ts';
import { marketRoutes } from './market.ts';
import { HttpError, problemHandler } from './problem.ts';
import { sceneRoutes } from './scenes.ts';
import { sessionRoutes } from './session.ts';
import { tokenRoutes } from './tokens.ts';
import { type WebhookRoutesDeps, webhookRoutes } from './webhooks.ts';
import { type GatewayDeps, gatewayRoutes, type WorkRoutesDeps, workRoutes } from './work.ts';
import { registerWorker, workerRoutes } from './workers.ts';

export interface AppDeps extends JobRoutesDeps, WorkRoutesDeps, GatewayDeps, AssetRoutesDeps, WebhookRoutesDeps {
  ledger: Ledger;
  marketIntervalMs: number;
  marketIndexFloorRu: number;
  /** How long the market's clearings are kept (its price history). */
  marketHistoryMs: number;
  redis: FarmRedis;
  tokens: Tokens;
  workers: Workers;
  classes: Classes;
  tolerance: Tolerance;
  log: Logger;
  metrics: Metrics;
  board: QueueBoard;
  scenesDir: string;
  dashboardDir: string;
  maxSceneBytes: number;
  maxResultBytes: number;
  /** The farm's id (state/farm-id.ts). */
  farmId: string;
  /** Signed worker bodies read at once per address (bodies.ts). */
  workerBodiesPerAddress: number;
  /** How often workers heartbeat, and for how long a replica needs none (lease-terms.ts). */
  lease: LeaseTerms;
  /** The reverse proxies whose X-Forwarded-For names the client (config.ts `trustProxy`, which refuses any that would trust every client). */
  trustProxy: OrchestratorConfig['trustProxy'];
}

/** A registration body is a public key, a name and a device: a few hundred bytes. */
const REGISTRATION_BYTES = 4096;

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // A request pipelined behind another on its connection has no socket until the one before it is
  // answered, and nothing bounds how many wait so: answered each in turn into memory, a thousand
  // pages of workers pipelined on one connection never read held 300 MiB while it stayed open
  // (an attacker's review); a CAR built for one outlived its count (cars-in-flight.ts). No client
  // of the farm pipelines (browsers and fetch do not): such a connection is closed.
  app.use((req, res, next) => {
    if (res.socket) return next();
    req.socket.destroy();
  });
  // req.ip, and with it every per-address limit, is the socket's address unless a proxy is trusted.
  app.set('trust proxy', deps.trustProxy);
  app.use(
    pinoHttp({
      logger: deps.log,
      // Method and URL only: headers carry API tokens and signatures.
      serializers: { req: (req) => ({ id: req.id, method: req.method, url: req.url }), res: (res) => ({ status: res.statusCode }) },
      autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/api/work/') || req.method === 'GET' },
    }),
  );

  app.use(refuseEncodedBodies);
  // No page of the farm's is shown inside another's frame: a page on a sibling subdomain (same
  // site, so the session cookie goes along) could lay its own buttons over the dashboard's job
  // controls, or over the queue board's, where two clicks paused every queue (attackers' reviews).
  app.use((_req, res, next) => {
    res.set({ 'X-Frame-Options': 'DENY', 'Content-Security-Policy': "frame-ancestors 'none'" });
    next();
  });

  app.get('/healthz', async (_req, res) => {
    await deps.redis.ping();
    const problems = await deps.storage.problems();
    // Alive, but not ready to take work: nothing new can be stored.
    if (problems.length > 0) res.status(503).json({ ok: false, status: 'degraded', problems });
    else res.json({ ok: true, status: 'ok' });
  });

  const gate = new AuthGate(deps.limits, deps.farmId);
  const requester = requireRequester(deps.tokens, gate);

  /** Prometheus scrape target, for the operator (queue depths and spot-check counts would tell workers too much). */
  app.get('/metrics', requester, requireOperator, async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.use(ADMIN_QUEUES_PATH, requester, requireOperator, deps.board.router);
  app.use('/api/session', sessionRoutes(deps.tokens, requester, gate));
  app.use('/api/scenes', requester, sceneRoutes(deps));
  app.use('/api/jobs', requester, jobRoutes(deps));
  app.use('/api/assets', requester, assetRoutes(deps));
  app.use('/api/tokens', requester, requireOperator, tokenRoutes(deps.tokens, deps.webhooks));
  app.use('/api/webhooks', requester, readJson(4096), webhookRoutes(deps));
  app.use('/api', creditRoutes(deps.ledger, deps.redis, requester));
  app.use('/api/reservations', requester, readJson(4096), reservationRoutes(deps));

  /** The farm's id: what a worker's signatures cover, so that none is good on another farm. */
  app.get('/api/farm', (_req, res) => {
    res.json({ id: deps.farmId } satisfies FarmInfo);
  });

  /** This farm's scene limits, for clients to check a scene before they upload it. */
  app.get('/api/limits', (_req, res) => {
    res.json(deps.farmLimits);
  });

  /** The determinism classes and the published tolerance for provisional ones. */
  app.get('/api/classes', async (_req, res) => {
    const list: ClassList = {
      tolerance: deps.tolerance,
      calibration: deps.calibration.spec,
      classes: (await deps.classes.all()).map(({ id, established, near, answers, at }) => ({ id, established, near, answers, at })),
    };
    res.json(list);
  });

  const bounded = boundBodies(deps.workerBodiesPerAddress);
  const workBody = bounded(readRaw(deps.maxResultBytes));
  const batchBody = bounded(readRaw(deps.maxResultBytes * MAX_BATCH));
  // Signed routes need the exact body bytes: read raw, once the signature over their claimed hash checks out.
  const worker = authenticateWorker(deps.redis, deps.workers, gate, deps.limits);
  const signedBody = verifyBody(gate);
  app.post(
    '/api/workers',
    (req, res, next) => next(gate.refuseBlocked(req, res)),
    limitBy(deps.limits.registration, addressOf),
    readRaw(REGISTRATION_BYTES),
    registerWorker({ ...deps, gate, calibration: deps.calibration }),
  );
  app.use('/api/workers', workerRoutes(deps));
  app.use('/api/market', marketRoutes(deps.market, deps, deps));
  app.use('/ipfs', worker, workBody, signedBody, gatewayRoutes(deps));
  app.use(
    '/api/work',
    worker,
    // A batched upload carries up to MAX_BATCH results; every other signed body at most one.
    (req, res, next) => (req.path === '/results' ? batchBody : workBody)(req, res, next),
    signedBody,
    workRoutes(deps),
  );

  app.use(dashboardRoutes(deps.dashboardDir));

  app.use((req) => {
    throw new HttpError(404, 'Not found', `no route ${req.method} ${req.path}`);
  });
  app.use(problemHandler);
  return app;
}
