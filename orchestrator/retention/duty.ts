/**
 * Retention: ended jobs are deleted once their retention period has passed (or at once, when
 * asked), blobs nothing refers to any more are collected, and each account's ledger keeps its
 * newest entries. Every step is idempotent and safe on several orchestrators at once.
 */
import type { Logger } from 'pino';
import type { ContentStore } from '../content/store.ts';
import type { Metrics } from '../metrics.ts';
import type { AssetIndex } from '../state/assets.ts';
import type { Jobs } from '../state/jobs.ts';
import type { Ledger } from '../state/ledger.ts';
import type { FarmRedis } from '../state/redis.ts';
import { referencedBlobs } from '../state/references.ts';
import { collectable, deletionCutoff } from './rules.ts';

/** Jobs deleted per pass (a pass runs every second). */
const JOBS_PER_PASS = 20;
/**
 * Jobs due a pass looks at, for JOBS_PER_PASS deleted: one that may not go yet (its tiles drain,
 * its late replicas are out) is skipped, not waited on — the first 20 that may not had held up
 * every other deletion (an attacker's review).
 */
const CANDIDATES_PER_PASS = 8 * JOBS_PER_PASS;

export interface RetentionDeps {
  redis: FarmRedis;
  jobs: Jobs;
  ledger: Ledger;
  blobs: ContentStore;
  assets: AssetIndex;
  metrics: Metrics;
  log: Logger;
  /** Blobs kept whatever refers to them (the calibration scene this orchestrator hands out). */
  pinned: readonly string[];
  settings: { retentionMs: number; blobGraceMs: number; ledgerEntriesKept: number };
}

/** Deletes the ended jobs that are due; one still being wound down waits for the next pass. */
export async function deleteDueJobs(deps: RetentionDeps, now = Date.now()): Promise<number> {
  let deleted = 0;
  for (const id of await deps.jobs.dueForDeletion(deletionCutoff(now, deps.settings.retentionMs), CANDIDATES_PER_PASS)) {
    // One job that cannot be deleted (a record that does not read) must not stop the others.
    const purged = await deps.jobs.purge(id).catch((err: Error) => deps.log.error({ job: id, err: err.message }, 'could not delete a job'));
    if (purged !== 'deleted') continue;
    deps.log.info({ job: id }, 'job deleted');
    if (++deleted === JOBS_PER_PASS) break;
  }
  deps.metrics.deleted('jobs', deleted);
  return deleted;
}

/** Removes the blobs nothing refers to, then tidies the store. */
export async function collectBlobs(deps: RetentionDeps): Promise<{ blobs: number; bytes: number }> {
  const readAt = Date.now();
  const referenced = await referencedBlobs(deps.redis);
  for (const cid of deps.pinned) referenced.add(cid);
  let blobs = 0;
  let bytes = 0;
  for await (const blob of deps.blobs.list()) {
    if (!collectable(blob, referenced, readAt, deps.settings.blobGraceMs)) continue;
    // The asset index first: a crash between the two then leaves a blob no index names (collected
    // next time), never an index naming a blob that is gone (a client would never upload it again).
    await deps.assets.forget(blob.cid, readAt);
    await deps.blobs.remove(blob.cid, blob.writtenAt);
    blobs++;
    bytes += blob.bytes;
  }
  await deps.blobs.tidy();
  deps.metrics.deleted('blobs', blobs);
  if (blobs) deps.log.info({ blobs, bytes }, 'collected unreferenced blobs');
  return { blobs, bytes };
}

/** Caps each account's ledger at its newest entries. */
export async function trimLedgers(deps: RetentionDeps): Promise<number> {
  const ledgerEntries = await deps.ledger.trim(deps.settings.ledgerEntriesKept);
  deps.metrics.deleted('ledger_entries', ledgerEntries);
  if (ledgerEntries) deps.log.info({ ledgerEntries }, 'trimmed old ledger entries');
  return ledgerEntries;
}
