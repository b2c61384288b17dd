/**
 * A worker's lease terms, from the farm's lease (FARM_LEASE_MS). A heartbeat renews a replica's
 * lease for `leaseMs`, and a worker heart-beats every `heartbeatMs`, a third of it: a heartbeat
 * sent finds at least two intervals left, so one lost on the way is made good by the next. A
 * replica's first lease is one interval longer, so that it needs no heartbeat for its first
 * interval with that same margin: a worker that holds each replica for less than an interval
 * (fetch, render and upload) sends none, and one request a tile (the upload that asks for the next)
 * is all its work costs.
 */
export interface LeaseTerms {
  leaseMs: number;
  heartbeatMs: number;
  /** A bound replica's lease, before any heartbeat. */
  firstLeaseMs: number;
}

export function leaseTerms(leaseMs: number): LeaseTerms {
  const heartbeatMs = Math.max(100, Math.floor(leaseMs / 3));
  return { leaseMs, heartbeatMs, firstLeaseMs: leaseMs + heartbeatMs };
}

/**
 * Whether a replica's holder let its lease lapse by `now`: it no longer holds it, though the sweep
 * (a spot check's) or BullMQ's stalled check (a real slot's) may not have timed it out yet. Checked
 * wherever holding matters, the same for both kinds, so that neither how soon a lapse is noticed
 * nor what a lapsed replica may still do tells a spot check from real work.
 */
export const lapsed = (replica: { state: string; leaseUntil?: number }, now: number): boolean =>
  replica.state === 'assigned' && replica.leaseUntil !== undefined && now > replica.leaseUntil;
