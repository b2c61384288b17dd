/** What retention deletes, decided without Redis or files (duty.ts acts on it). */

/**
 * Jobs that ended before this instant are due deletion. With retention off (0), only jobs whose
 * deletion was asked for (indexed at 0) are.
 */
export const deletionCutoff = (now: number, retentionMs: number): number => (retentionMs === 0 ? 0 : now - retentionMs);

/**
 * A blob may go when nothing refers to it and it was written well before the references were read:
 * a blob is stored before the record that names it, so a young one may be about to be referred to.
 */
export const collectable = (
  blob: { cid: string; writtenAt: number },
  referenced: ReadonlySet<string>,
  referencesReadAt: number,
  graceMs: number,
): boolean => !referenced.has(blob.cid) && blob.writtenAt < referencesReadAt - graceMs;
