/** Worker registration (proof of key possession) and the public worker list. */
import { Router } from 'express';
import { z } from 'zod';
import { WorkerRegistration } from '../../shared/protocol.ts';
import { workerIdOf } from '../../shared/signing.ts';
import type { Ledger } from '../state/ledger.ts';
import type { Tokens } from '../state/tokens.ts';
import type { Workers } from '../state/workers.ts';
import { checkSignature, rawBody } from './auth.ts';
import { HttpError } from './problem.ts';

const Page = z.object({ offset: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(1000).default(100) });

const Leaderboard = z.object({
  sort: z
    .enum(['credibility', 'valid', 'invalid', 'timedOut', 'rejected', 'passed', 'faults', 'lastSeen', 'registeredAt'])
    .default('credibility'),
  order: z.enum(['asc', 'desc']).default('desc'),
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export function workerRoutes(workers: Workers, tokens: Tokens, ledger: Ledger, heartbeatMs: number): Router {
  const r = Router();

  r.post('/', async (req, res) => {
    let json: unknown;
    try {
      json = JSON.parse(rawBody(req).toString('utf8') || '{}');
    } catch (e) {
      throw new HttpError(400, 'Malformed JSON', (e as Error).message);
    }
    const body = WorkerRegistration.parse(json);
    checkSignature(req, body.publicKey);
    const id = workerIdOf(body.publicKey);
    // A registration that also carries the operator's token is one of the operator's own workers.
    const bearer = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    const trusted = bearer !== undefined && (await tokens.lookup(bearer))?.role === 'operator';
    const worker = await workers.register(id, body.publicKey, body.name, body.deviceClass, trusted);
    req.log?.info({ worker: id, name: body.name, deviceClass: body.deviceClass }, 'worker registered');
    res.status(201).json({ ...workers.view(worker), heartbeatMs });
  });

  /** The public leaderboard: sortable, paged. */
  r.get('/', async (req, res) => {
    const q = Leaderboard.parse(req.query);
    const views = (await workers.list()).map((w) => workers.view(w));
    const key = q.sort;
    views.sort((a, b) => (q.order === 'asc' ? 1 : -1) * (Number(a[key]) - Number(b[key])) || a.id.localeCompare(b.id));
    res.json({ total: views.length, offset: q.offset, workers: views.slice(q.offset, q.offset + q.limit) });
  });

  /** One worker with the evidence behind its score: disagreements it lost or won. */
  r.get('/:id', async (req, res) => {
    const w = await workers.get(req.params.id);
    if (!w) throw new HttpError(404, 'Not found', `no worker ${req.params.id}`);
    res.json({ ...workers.view(w), evidence: await workers.evidence(w.id) });
  });

  /** The worker's credits and every entry that moved them (public, like its reputation). */
  r.get('/:id/ledger', async (req, res) => {
    const w = await workers.get(req.params.id);
    if (!w) throw new HttpError(404, 'Not found', `no worker ${req.params.id}`);
    const { offset, limit } = Page.parse(req.query);
    res.json({ ...(await ledger.account(w.id)), entries: await ledger.entries(w.id, offset, limit) });
  });

  return r;
}
