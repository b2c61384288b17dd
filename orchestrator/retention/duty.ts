/**
 * Retention: ended jobs are deleted once their retention period has passed (or at once, when
 * asked), blobs nothing refers to any more are collected, and each account's ledger keeps its
 * newest entries. Every step is idempotent and safe on several orchestrators at once.
 */
import type { Logger } from 'pino';
import type { BlobStore } from '../blobstore.ts';
import type { Metrics } from '../metrics.ts';
import type { Jobs } from '../state/jobs.ts';
import type { Ledger } from '../state/ledger.ts';
import type { FarmRedis } from '../state/redis.ts';
import { referencedBlobs } from '../state/references.ts';
import { collectable, deletionCutoff } from './rules.ts';

/** Jobs deleted per pass (a pass runs every second). */
const JOBS_PER_PASS = 20;

export interface RetentionDeps {
  redis: FarmRedis;
  jobs: Jobs;
  ledger: Ledger;
  blobs: BlobStore;
  metrics: Metrics;
  log: Logger;
  /** Blobs kept whatever refers to them (the calibration scene this orchestrator hands out). */
  pinned: readonly string[];
  settings: { retentionMs: number; blobGraceMs: number; ledgerEntriesKept: number };
}

/** Deletes the ended jobs that are due; one still being wound down waits for the next pass. */
export async function deleteDueJobs(deps: RetentionDeps, now = Date.now()): Promise<number> {
  let deleted = 0;
  for (const id of await deps.jobs.dueForDeletion(deletionCutoff(now, deps.settings.retentionMs), JOBS_PER_PASS)) {
    if ((await deps.jobs.purge(id)) !== 'deleted') continue;
    deleted++;
    deps.log.info({ job: id }, 'job deleted');
  }
  deps.metrics.deleted('jobs', deleted);
  return deleted;
}

/** Removes the blobs nothing refers to, and caps the ledgers. */
export async function collect(deps: RetentionDeps): Promise<{ blobs: number; bytes: number; ledgerEntries: number }> {
  const readAt = Date.now();
  const referenced = await referencedBlobs(deps.redis);
  for (const cid of deps.pinned) referenced.add(cid);
  let blobs = 0;
  let bytes = 0;
  for await (const blob of deps.blobs.list()) {
    if (!collectable(blob, referenced, readAt, deps.settings.blobGraceMs)) continue;
    await deps.blobs.remove(blob.cid, blob.writtenAt);
    blobs++;
    bytes += blob.bytes;
  }
  const ledgerEntries = await deps.ledger.trim(deps.settings.ledgerEntriesKept);
  deps.metrics.deleted('blobs', blobs);
  deps.metrics.deleted('ledger_entries', ledgerEntries);
  if (blobs || ledgerEntries) deps.log.info({ blobs, bytes, ledgerEntries }, 'collected unreferenced blobs and old ledger entries');
  return { blobs, bytes, ledgerEntries };
}
