/**
 * Every blob CID the farm's records refer to: jobs (scene and its assets, stitched frames, animation, thumbnail), their tasks
 * (verdicts and every replica's result), determinism classes (the calibration scene and its known
 * answers) and workers (their calibration answers). What blob collection keeps; a walk of every record, so it
 * runs on the collection's timer, never on a hot path.
 */
import { planJob } from '../planner.ts';
import { keys } from './keys.ts';
import { type FarmRedis, sortedSetBatches } from './redis.ts';
import type { ReplicaRecord } from './tasks.ts';

const BATCH = 500;

export async function referencedBlobs(redis: FarmRedis): Promise<Set<string>> {
  const cids = new Set<string>();
  const add = (cid: unknown) => {
    if (typeof cid === 'string' && cid) cids.add(cid);
  };
  for await (const jobs of sortedSetBatches(redis, keys.jobsAll, BATCH)) for (const id of jobs) await jobReferences(redis, id, add);
  for (const raw of await redis.hvals(keys.classes)) {
    const record = JSON.parse(raw) as { answers: string[]; calibration: string };
    record.answers.forEach(add);
    add(record.calibration);
  }
  for await (const workers of sortedSetBatches(redis, keys.workersAll, BATCH)) {
    const m = redis.multi();
    for (const w of workers) m.hget(keys.worker(w), 'calibration');
    for (const [, raw] of ((await m.exec()) ?? []) as [unknown, string | null][]) if (raw) (JSON.parse(raw) as string[]).forEach(add);
  }
  return cids;
}

async function jobReferences(redis: FarmRedis, id: string, add: (cid: unknown) => void): Promise<void> {
  const [[, fields], [, frames]] = (await redis
    .multi()
    .hmget(keys.job(id), 'scene', 'animation', 'frames', 'width', 'height', 'tileSize', 'assets', 'thumbnail')
    .hvals(keys.jobFrameCids(id))
    .exec()) as [[unknown, (string | null)[]], [unknown, string[]]];
  const [scene, animation, frameList, width, height, tileSize, assets, thumbnail] = fields;
  add(scene);
  add(thumbnail);
  if (assets) (JSON.parse(assets) as string[]).forEach(add);
  add(animation);
  frames.forEach(add);
  if (!frameList) return;
  const tasks = planJob(id, JSON.parse(frameList) as number[], Number(width), Number(height), Number(tileSize));
  for (let i = 0; i < tasks.length; i += BATCH) {
    const m = redis.multi();
    for (const t of tasks.slice(i, i + BATCH)) m.hget(keys.task(t.id), 'cid').hvals(keys.taskReplicas(t.id));
    const rows = ((await m.exec()) ?? []) as [unknown, unknown][];
    for (let j = 0; j < rows.length; j += 2) {
      add(rows[j][1]);
      for (const raw of rows[j + 1][1] as string[]) {
        const replica = JSON.parse(raw) as ReplicaRecord;
        add(replica.cid);
        // Lua's cjson writes an empty list as {}.
        if (Array.isArray(replica.previous)) for (const earlier of replica.previous) add(earlier.cid);
      }
    }
  }
}
