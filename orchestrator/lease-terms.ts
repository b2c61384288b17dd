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
