/** The worker protocol: heartbeat, long-poll for a replica, fetch its scene, upload, hand back. */
import { Router } from 'express';
import { z } from 'zod';
import { Heartbeat, RESULT_CID_HEADER } from '../../shared/protocol.ts';
import type { BlobStore } from '../blobstore.ts';
import type { Dispatcher } from '../dispatch.ts';
import { parseSlotId, slotLogIds } from '../planner.ts';
import { acceptResult, type ResultDeps, ResultRejected } from '../results.ts';
import type { Ledger } from '../state/ledger.ts';
import type { Tasks } from '../state/tasks.ts';
import type { WorkerRecord, Workers } from '../state/workers.ts';
import { rawBody } from './auth.ts';
import { Credits, ledgerOp, toCents } from './credits.ts';
import { HttpError } from './problem.ts';

export interface WorkRoutesDeps extends ResultDeps {
  ledger: Ledger;
  workers: Workers;
  tasks: Tasks;
  blobs: BlobStore;
  dispatch: Dispatcher;
}

export function workRoutes(deps: WorkRoutesDeps): Router {
  const r = Router();
  const { workers, tasks, dispatch } = deps;
  const me = (req: { worker?: WorkerRecord }) => req.worker as WorkerRecord;

  async function held(workerId: string) {
    const slots = await workers.active(workerId);
    const out = [];
    for (const slot of slots) {
      const task = parseSlotId(slot)?.task;
      const replica = task && (await tasks.replicas(task)).find((x) => x.replica === slot);
      if (replica) out.push(replica);
    }
    return out;
  }

  r.post('/heartbeat', async (req, res) => {
    const worker = me(req);
    const { replicas } = Heartbeat.parse(JSON.parse(rawBody(req).toString('utf8') || '{}'));
    await workers.touch(worker.id);
    // Only the replicas the worker says it is rendering keep their lease; one it dropped lapses.
    await dispatch.extendLeases(
      worker.id,
      (await held(worker.id)).filter((r) => replicas.includes(r.replica)),
    );
    res.json({ ok: true, at: Date.now() });
  });

  r.post('/next', async (req, res) => {
    const worker = me(req);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const assignment = await dispatch.next(worker, abort.signal);
    if (abort.signal.aborted && assignment) {
      // The worker hung up before it heard about this replica: hand it straight back.
      const replica = (await held(worker.id)).find((x) => x.replica === assignment.replica);
      if (replica && (await tasks.release(replica.replica, worker.id))) await dispatch.handBack(replica, worker.id);
      return;
    }
    if (!assignment) res.status(204).end();
    else res.json(assignment);
  });

  r.get('/scenes/:cid', async (req, res) => {
    const bytes = await deps.blobs.get(req.params.cid);
    if (!bytes) throw new HttpError(404, 'Not found', `no scene ${req.params.cid}`);
    res.type('application/json').send(Buffer.from(bytes));
  });

  r.put('/:replica/result', async (req, res) => {
    const worker = me(req);
    const cid = req.get(RESULT_CID_HEADER);
    if (!cid)
      throw new HttpError(400, 'Invalid request', `send the result's CID in ${RESULT_CID_HEADER}`, [
        { path: RESULT_CID_HEADER, message: 'required' },
      ]);
    try {
      const status = await acceptResult(deps, worker, req.params.replica, cid, new Uint8Array(rawBody(req)));
      res.json({ status });
    } catch (e) {
      if (e instanceof ResultRejected) {
        req.log?.warn({ ...slotLogIds(req.params.replica), reason: e.message }, 'result rejected');
        throw new HttpError(e.status, 'Result rejected', e.message);
      }
      throw e;
    }
  });

  /** Moves credits between the worker's balance and its stake. */
  for (const [path, op] of [
    ['/stake', 'deposit'],
    ['/unstake', 'withdraw'],
  ] as const) {
    r.post(path, async (req, res) => {
      const worker = me(req);
      const { amount } = z.object({ amount: Credits }).parse(JSON.parse(rawBody(req).toString('utf8') || '{}'));
      await ledgerOp(() => deps.ledger[op](worker.id, toCents(amount)));
      res.json(await deps.ledger.account(worker.id));
    });
  }

  r.post('/:replica/release', async (req, res) => {
    const worker = me(req);
    const replica = (await held(worker.id)).find((x) => x.replica === req.params.replica);
    if (!replica || !(await tasks.release(replica.replica, worker.id)))
      throw new HttpError(409, 'Not held', `worker does not hold ${req.params.replica}`);
    await dispatch.handBack(replica, worker.id);
    req.log?.info(slotLogIds(replica.replica), 'replica handed back');
    res.json({ status: 'released' });
  });

  return r;
}
