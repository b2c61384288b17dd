/** Worker registration (proof of key possession) and the public worker records. */
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { toTicks } from '../../shared/market.ts';
import { type CalibrationSpec, Ids, type Leaderboard, LedgerQuery, type Registered, WorkerRegistration } from '../../shared/protocol.ts';
import { isEd25519PublicKey, workerIdOf } from '../../shared/signing.ts';
import type { LeaseTerms } from '../lease-terms.ts';
import type { Ledger } from '../state/ledger.ts';
import type { FarmRedis } from '../state/redis.ts';
import type { Tokens } from '../state/tokens.ts';
import { LEADERBOARD_ORDERS, type Workers } from '../state/workers.ts';
import { type AuthGate, checkBody, checkSignature, rawBody } from './auth.ts';
import { HttpError, param, parseJson } from './problem.ts';

const MINUTE_MS = 60_000;

const LeaderboardQuery = z.object({
  sort: z.enum(LEADERBOARD_ORDERS).default('credibility'),
  order: z.enum(['asc', 'desc']).default('desc'),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export interface WorkerRoutesDeps {
  workers: Workers;
  tokens: Tokens;
  ledger: Ledger;
  redis: FarmRedis;
  gate: AuthGate;
  calibration: { spec: CalibrationSpec };
  lease: LeaseTerms;
}

/** POST /api/workers, after the registration rate limit and a small raw-body parser (app.ts). */
export function registerWorker(deps: WorkerRoutesDeps): RequestHandler {
  const { workers } = deps;
  return async (req, res) => {
    const body = WorkerRegistration.parse(parseJson(rawBody(req)));
    if (!isEd25519PublicKey(body.publicKey))
      throw new HttpError(400, 'Invalid request', 'the key must be an Ed25519 public key (SPKI DER, base64)', [
        { path: 'publicKey', message: 'not an Ed25519 public key' },
      ]);
    // The key is in the body, so the (small) body is read first here.
    await checkSignature(deps.redis, deps.gate, req, res, body.publicKey);
    await checkBody(deps.gate, req, res);
    const id = workerIdOf(body.publicKey);
    // A registration that also carries the operator's token is one of the operator's own workers.
    const bearer = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    const trusted = bearer !== undefined && (await deps.tokens.lookup(bearer))?.role === 'operator';
    const worker = await workers.register(
      id,
      body.publicKey,
      body.name,
      body.device,
      trusted,
      body.ask === undefined ? null : toTicks(body.ask),
    );
    req.log?.info({ worker: id, name: body.name, device: body.device, trusted }, 'worker registered');
    const answer: Registered = {
      ...workers.view(worker),
      heartbeatMs: deps.lease.heartbeatMs,
      firstHeartbeatMs: deps.lease.firstLeaseMs - deps.lease.leaseMs,
      calibration: worker.classState === 'calibrating' ? deps.calibration.spec : null,
    };
    res.status(201).json(answer);
  };
}

export function workerRoutes(deps: Pick<WorkerRoutesDeps, 'workers' | 'ledger'>): Router {
  const { workers } = deps;
  const r = Router();

  /**
   * The public leaderboard: sorted and paged from Redis indexes, never a scan of every worker;
   * each worker on the page with its accepted results per minute over the last hour.
   */
  r.get('/', async (req, res) => {
    const q = LeaderboardQuery.parse(req.query);
    const page = await workers.leaderboard(q.sort, q.order === 'desc', q.offset, q.limit);
    const recent = await workers.recent(page.workers.map((w) => w.id));
    const board: Leaderboard = {
      total: page.total,
      offset: q.offset,
      workers: page.workers.map((w, i) => ({ ...workers.view(w), recent: recent[i] })),
    };
    res.json(board);
  });

  /** One worker with the evidence behind its score: disagreements it lost or won. */
  r.get('/:id', async (req, res) => {
    const w = await workers.get(param(req, 'id', Ids.worker));
    if (!w) throw new HttpError(404, 'Not found', `no worker ${req.params.id}`);
    const [evidence, [recent]] = await Promise.all([workers.evidence(w.id), workers.recent([w.id])]);
    res.json({ ...workers.view(w), recent, evidence });
  });

  /**
   * The worker's credits and every entry that moved them (public, like its reputation), each
   * timed to the minute: a verdict pays every agreeing worker in one script, so entries of other
   * workers at the same millisecond marked a real replica's verdict, and their absence a spot
   * check's.
   */
  r.get('/:id/ledger', async (req, res) => {
    const w = await workers.get(param(req, 'id', Ids.worker));
    if (!w) throw new HttpError(404, 'Not found', `no worker ${req.params.id}`);
    const { offset, limit } = LedgerQuery.parse(req.query);
    const page = await deps.ledger.page(w.id, offset, limit);
    res.json({ ...page, entries: page.entries.map((e) => ({ ...e, at: e.at - (e.at % MINUTE_MS) })) });
  });

  return r;
}
