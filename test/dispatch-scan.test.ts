/**
 * A poll's scan through a worker's queues: slots it may not take at the head of one queue (the
 * further replicas of tiles it already answered, in its class's queue) do not keep it from fresh
 * work in the next, nor do slots of tiles another class took (they wait in that class's queue, and
 * come back to the shared one when the tile is handed back, or at recovery where a crash kept one
 * there). A lease holds while its holder
 * heart-beats, and only then. Real orchestrator,
 * Redis and signed HTTP.
 */
import { Worker as BullWorker, type Job, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskView, WorkerView } from '../shared/protocol.ts';
import { type ApiFarm, fundOperator, nextAssignment, oneTileJob, startApiFarm, uploadShade } from './support/orchestrator.ts';

let api: ApiFarm;
beforeAll(async () => {
  api = await startApiFarm();
  await fundOperator(api, 100);
});
afterAll(() => api.stop());

describe('a scan', () => {
  it('parks no job’s slots for the others when a key asks more than the job pays', async () => {
    const greedy = await api.worker('greedy', { stake: 1000, ask: 1_000_000 });
    const fair = await api.worker('fair', { stake: 1000, ask: 0.5 });
    await api.operator('/api/jobs', { ...oneTileJob(1), maxPrice: 1 });
    await api.operator('/api/jobs', { ...oneTileJob(1), spp: 2, budget: 1 });
    // Before any price the greedy key's ask would be the cost: both jobs' slots are out of its reach…
    expect(await greedy.client.next()).toBeUndefined();
    // … and still waiting for the next worker, not set aside until the next clearing (10 s here).
    for (let i = 0; i < 2; i++) expect(await uploadShade(fair.client, await nextAssignment(fair.client, 2000), 90)).toBe('accepted');
  });

  it('reaches fresh work past more slots it may not take than a scan holds in one queue', async () => {
    const w = await api.worker('w', { stake: 1000 });
    // 20 tiles; a lone untrusted result is not enough, so each tile asks for another worker's
    // in w's class queue, where w (one vote per tile) may not take it.
    const tiles = 20;
    await api.operator('/api/jobs', { ...oneTileJob(1), width: 16 * tiles, verification: 'credibility' });
    for (let i = 0; i < tiles; i++) expect(await uploadShade(w.client, await nextAssignment(w.client), 90)).toBe('accepted');
    expect(await w.client.next()).toBeUndefined();
    // Fresh work in the shared queue.
    const { id } = (await (await api.operator('/api/jobs', oneTileJob(1))).json()) as { id: string };
    const a = await nextAssignment(w.client, 5000);
    expect(a.replica).toBeDefined();
    const [task] = ((await (await api.operator(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: { replicas: { worker: string }[] }[] })
      .tasks;
    expect(task.replicas.map((r) => r.worker)).toEqual([w.id]);
  });
});

describe('slots of a tile another class took', () => {
  it('wait in that class’s queue, not at the head of the shared one; a tile handed back comes back to it', async () => {
    const own = await startApiFarm();
    const redis = new Redis(own.redisUrl);
    try {
      await fundOperator(own, 1000);
      // A rare class (its trusted machine never polls), and a key of the common one.
      await own.worker('rare-anchor', { trusted: true, shade: 200 });
      const [k1, k2] = await Promise.all(['k1', 'k2'].map((name) => own.worker(name, { shade: 200, stake: 1000 })));
      const honest = await own.worker('honest', { stake: 1000 });
      const rare = ((await (await fetch(`${own.farm.url}/api/workers/${k1.id}`)).json()) as WorkerView).class as string;
      const queued = async (name: string) => (await redis.zcard(`bull:${name}:prioritized`)) + (await redis.llen(`bull:${name}:wait`));
      // A tile a rare key holds: the slot the common key meets moves to the rare class's queue,
      // and comes back when the rare key hands the tile back (its class gone).
      const { id } = (await (await own.operator('/api/jobs', oneTileJob(2))).json()) as { id: string };
      const held = await nextAssignment(k2.client, 5000);
      expect(await honest.client.next()).toBeUndefined();
      expect([await queued('slots'), await queued(`slots-${rare}`)]).toEqual([0, 1]);
      await k2.client.release(held.replica);
      // The hand-back is answered before the slots move (work.ts: its time must not tell a check).
      await expect.poll(async () => [await queued('slots'), await queued(`slots-${rare}`)]).toEqual([2, 0]);
      // A crash between the tile losing its class and that move had left a slot in the rare queue,
      // where only a poll of that class moved it: recovery (another orchestrator starting) does.
      const [shared, stranded] = [new Queue('slots', { connection: redis }), new Queue(`slots-${rare}`, { connection: redis })];
      const [slot] = await shared.getJobs(['prioritized', 'wait']);
      expect(await shared.remove(slot.id as string)).toBe(1);
      await stranded.add(slot.name, slot.data, { jobId: slot.id, priority: slot.priority });
      expect([await queued('slots'), await queued(`slots-${rare}`)]).toEqual([1, 1]);
      await (await own.another()).close();
      expect([await queued('slots'), await queued(`slots-${rare}`)]).toEqual([2, 0]);
      await Promise.all([shared.close(), stranded.close()]);
      const back = await nextAssignment(honest.client, 5000);
      const [task] = ((await (await own.operator(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] }).tasks;
      expect(task.replicas.find((r) => r.replica === back.replica)?.worker).toBe(honest.id);
      // A rare key answers one replica of each of 3 tiles of a quorum-7 job: 18 slots only its
      // class may take, ahead of anything submitted after (an attacker's review: put back at the
      // head of the shared queue, they hid every newer slot from every other class).
      await own.operator('/api/jobs', { ...oneTileJob(7), width: 48, spp: 2 });
      for (let i = 0; i < 3; i++) expect(await uploadShade(k1.client, await nextAssignment(k1.client, 5000), 90)).toBe('accepted');
      const { id: fresh } = (await (await own.operator('/api/jobs', { ...oneTileJob(1), verification: 'credibility', spp: 3 })).json()) as {
        id: string;
      };
      const got = await nextAssignment(honest.client, 5000);
      const [freshTask] = ((await (await own.operator(`/api/jobs/${fresh}/tasks?frame=0`)).json()) as { tasks: TaskView[] }).tasks;
      expect(freshTask.replicas.map((r) => r.replica)).toEqual([got.replica]);
      // The common key's scan moved them on its way.
      expect([await queued('slots'), await queued(`slots-${rare}`)]).toEqual([0, 18]);
    } finally {
      redis.disconnect();
      await own.stop();
    }
  });
});

describe('a tile starved in its class', () => {
  it('is opened to the other classes, not accepted below θ or failed on a rare key’s word, nor kept starved by a key that takes nothing or a poll holding its slots, and never taken by its class again', async () => {
    // Online means seen within two leases (4 s); a verdict starved 1 s is decided.
    const own = await startApiFarm({ leaseMs: 2000, graceMs: 1000 });
    const connection = new Redis(own.redisUrl, { maxRetriesPerRequest: null });
    let scan: BullWorker | undefined;
    try {
      await fundOperator(own, 1000);
      // A rare class whose trusted machine goes offline, and a key of it.
      await own.worker('rare-anchor', { trusted: true, shade: 200 });
      await new Promise((r) => setTimeout(r, 4500));
      // A second key of it beats and polls asking more than any job pays: online, it takes nothing,
      // and must not keep the tile starved.
      const [k1, sibling, anchor] = await Promise.all([
        own.worker('k1', { shade: 200, stake: 1000 }),
        own.worker('sibling', { shade: 200, stake: 1000, ask: 1_000_000 }),
        own.worker('anchor', { trusted: true }),
      ]);
      const job = { ...oneTileJob(1), verification: 'credibility', onTimeout: 'fail' };
      const { id } = (await (await own.operator('/api/jobs', job)).json()) as { id: string };
      const tiles = async () => ((await (await own.operator(`/api/jobs/${id}/tasks?frame=0`)).json()) as { tasks: TaskView[] }).tasks;
      // The key takes the tile first, pinning it to its class, and answers junk nobody of that class can contradict.
      expect(await uploadShade(k1.client, await nextAssignment(k1.client, 5000), 90)).toBe('accepted');
      // A poll of that class (or an orchestrator killed while polling) holds the tile's slots as it
      // is opened to the others, and puts them back in that class's queue after.
      const rare = ((await (await fetch(`${own.farm.url}/api/workers/${k1.id}`)).json()) as WorkerView).class as string;
      scan = new BullWorker(`slots-${rare}`, null, { connection, autorun: false });
      const held: Job[] = [];
      for (let slot = await scan.getNextJob('scan'); slot; slot = await scan.getNextJob('scan')) held.push(slot);
      expect(held).not.toHaveLength(0);
      // The common class's trusted worker beats meanwhile: online, it is what another class needs.
      const overruled = async () => {
        const [, , polled] = await Promise.all([anchor.client.heartbeat([]), sibling.client.heartbeat([]), sibling.client.next()]);
        expect(polled).toBeUndefined();
        return (await tiles())[0].replicas[0].state;
      };
      await expect.poll(overruled, { timeout: 10_000 }).toBe('overruled');
      // Another key of that class is not given it; the common class's worker is, and its result
      // decides, once the slots held are back where no poll of that class moves them on.
      const k2 = await own.worker('k2', { shade: 200, stake: 1000 });
      expect(await k2.client.next()).toBeUndefined();
      for (const slot of held) await slot.moveToWait('scan');
      expect(await uploadShade(anchor.client, await nextAssignment(anchor.client, 5000), 40)).toBe('accepted');
      await expect.poll(async () => ((await (await own.operator(`/api/jobs/${id}`)).json()) as { state: string }).state).toBe('done');
      const [tile] = await tiles();
      expect([tile.anchored, tile.belowThreshold, tile.replicas.map((r) => [r.worker, r.state])]).toEqual([
        true,
        false,
        [
          [k1.id, 'overruled'],
          [anchor.id, 'valid'],
        ],
      ]);
      // The key's stake is free again, and it was paid nothing.
      expect(await (await fetch(`${own.farm.url}/api/workers/${k1.id}`)).json()).toMatchObject({ inFlight: 0, locked: 0, earned: 0 });
    } finally {
      await scan?.close();
      connection.disconnect();
      await own.stop();
    }
  });
});

describe('a lease', () => {
  /** On a farm with 1-s leases: one tile queued and taken by a key named holder. */
  async function tileHeld(own: ApiFarm) {
    await fundOperator(own, 1);
    const holder = await own.worker('holder', { trusted: true });
    await own.operator('/api/jobs', oneTileJob(1));
    return { holder, held: await nextAssignment(holder.client, 5000) };
  }

  it('lasts while its holder beats: the slot stays out of its queue and the late answer is taken', async () => {
    const own = await startApiFarm({ leaseMs: 1000 });
    try {
      const { holder, held } = await tileHeld(own);
      const other = await own.worker('other', { trusted: true });
      // Beats every 200 ms through three leases of 1 s (BullMQ's lock, extended by each beat).
      const alive = setInterval(() => void holder.client.heartbeat([held.replica]).catch(() => undefined), 200);
      try {
        for (const until = Date.now() + 3000; Date.now() < until; ) expect(await other.client.next()).toBeUndefined();
      } finally {
        clearInterval(alive);
      }
      // A lapsed lease would have timed the holder out: its upload would be refused (409).
      expect(await uploadShade(holder.client, held, 90)).toBe('accepted');
    } finally {
      await own.stop();
    }
  });

  it('is not kept by another key beating for it: the slot goes to the next worker', async () => {
    const own = await startApiFarm({ leaseMs: 1000 });
    try {
      const { holder, held } = await tileHeld(own);
      const sibling = await own.worker('sibling', { trusted: true });
      const next = await own.worker('next', { trusted: true });
      // The holder went quiet; a colluding key names its replica in every beat, to stall the tile.
      const alive = setInterval(() => void sibling.client.heartbeat([held.replica]).catch(() => undefined), 200);
      try {
        const taken = await nextAssignment(next.client, 5000);
        expect(taken.tile).toEqual(held.tile);
      } finally {
        clearInterval(alive);
      }
      await expect(uploadShade(holder.client, held, 90)).rejects.toMatchObject({ status: 409 });
    } finally {
      await own.stop();
    }
  });
});
