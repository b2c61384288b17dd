/** Worker registration (proof of key possession) and the public worker list. */
import { Router } from 'express';
import { WorkerRegistration } from '../../shared/protocol.ts';
import { workerIdOf } from '../../shared/signing.ts';
import type { Workers } from '../state/workers.ts';
import { checkSignature, rawBody } from './auth.ts';
import { HttpError } from './problem.ts';

export function workerRoutes(workers: Workers, heartbeatMs: number): Router {
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
    const worker = await workers.register(id, body.publicKey, body.name, body.deviceClass);
    req.log?.info({ worker: id, name: body.name, deviceClass: body.deviceClass }, 'worker registered');
    res.status(201).json({ ...workers.view(worker), heartbeatMs });
  });

  r.get('/', async (_req, res) => {
    res.json({ workers: (await workers.list()).map((w) => workers.view(w)) });
  });

  r.get('/:id', async (req, res) => {
    const w = await workers.get(req.params.id);
    if (!w) throw new HttpError(404, 'Not found', `no worker ${req.params.id}`);
    res.json(workers.view(w));
  });

  return r;
}
