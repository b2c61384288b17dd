/**
 * A full disk is visible and recoverable: below the space the data directory keeps free, /healthz
 * is degraded with the reason, what would store something gets 507, running jobs say they are held
 * up, /metrics shows the space; once space is freed the same job finishes.
 */
import { statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StorageFacts, storageProblems } from '../orchestrator/storage.ts';
import { Assignment, type JobStatus } from '../shared/protocol.ts';
import { waitFor } from './support/farm.ts';
import { type ApiFarm, oneTileJob, startApiFarm, type TestClient, uploadShade } from './support/orchestrator.ts';
import { parsePrometheus } from './support/prometheus.ts';

const MiB = 1024 * 1024;

describe('storage problems', () => {
  const limits = { minFreeBytes: 512 * MiB, maxRedisShare: 0.95 };
  const facts = (f: Partial<StorageFacts>): StorageFacts => ({ freeBytes: 10_000 * MiB, redisUsedBytes: 10 * MiB, redisMaxBytes: 0, ...f });

  it('names a disk below the free space kept, and Redis near its maxmemory (none: no limit)', () => {
    expect(storageProblems(facts({}), limits)).toEqual([]);
    expect(storageProblems(facts({ freeBytes: 100 * MiB }), limits)).toEqual(['disk: 100 MiB free, below the 512 MiB kept free']);
    expect(storageProblems(facts({ redisUsedBytes: 99 * MiB, redisMaxBytes: 100 * MiB }), limits)).toEqual([
      'redis: 99 MiB used of its 100 MiB maxmemory',
    ]);
    expect(storageProblems(facts({ redisUsedBytes: 90 * MiB, redisMaxBytes: 100 * MiB }), limits)).toEqual([]);
  });
});

describe('a full disk', () => {
  let api: ApiFarm;
  let truth: TestClient;
  let filler: string;
  const free = (dir: string) => {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  };

  beforeAll(async () => {
    // Keep free all but 64 MiB of what is free now; a 128 MiB file then fills the "disk".
    api = await startApiFarm({ minFreeBytes: Math.max(0, free(tmpdir()) - 64 * MiB) });
    truth = await api.worker('truth', { trusted: true });
    filler = join(api.dir, 'filler');
  });
  afterAll(() => api.stop());

  it('degrades /healthz, answers 507, holds jobs up visibly, and finishes them once space is freed', async () => {
    const submitted = await api.operator('/api/jobs', oneTileJob(1));
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    const a = Assignment.parse(await truth.client.next());

    writeFileSync(filler, Buffer.alloc(128 * MiB));
    await waitFor(async () => (await fetch(`${api.farm.url}/healthz`)).status === 503, 10_000, '/healthz to degrade');
    const health = (await (await fetch(`${api.farm.url}/healthz`)).json()) as { status: string; problems: string[] };
    expect(health).toMatchObject({
      status: 'degraded',
      problems: [expect.stringMatching(/^disk: \d+ MiB free, below the \d+ MiB kept free$/)],
    });

    const refused = await api.operator('/api/jobs', oneTileJob(1));
    expect(refused.status).toBe(507);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    await expect(uploadShade(truth.client, a, 90)).rejects.toMatchObject({ status: 507 });
    const held = (await (await api.operator(`/api/jobs/${id}`)).json()) as JobStatus;
    expect(held).toMatchObject({
      state: 'running',
      heldUp: expect.stringMatching(/^storage full \(disk: .*\): it resumes once space is freed$/),
    });
    const metrics = parsePrometheus(await (await api.operator('/metrics')).text());
    expect(metrics.get('farm_storage_bytes{kind="disk_free"}')).toBeGreaterThan(0);

    unlinkSync(filler);
    await waitFor(async () => (await fetch(`${api.farm.url}/healthz`)).ok, 10_000, '/healthz to recover');
    expect(await uploadShade(truth.client, a, 90)).toBe('accepted');
    await waitFor(
      async () => ((await (await api.operator(`/api/jobs/${id}`)).json()) as JobStatus).state === 'done',
      10_000,
      'the job to finish',
    );
    expect(((await (await api.operator(`/api/jobs/${id}`)).json()) as JobStatus).heldUp).toBeNull();
  });
});
