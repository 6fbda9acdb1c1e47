/** The fields of a coordination.k8s.io/v1 Lease spec that leader election uses. */
export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/** What this candidate last saw of the lease, by its own clock. */
export interface Observation {
  /** Serialized record, to notice any change. */
  record: string;
  /** Local time (ms) when that record was first seen. */
  at: number;
}

export type LeaseDecision = { action: "wait"; holder: string } | { action: "write"; record: LeaseRecord; takeover: boolean };

/**
 * Decides whether `identity` may take or keep the lease. Expiry is judged by how long
 * the record has stayed unchanged on this candidate's own clock, never by comparing the
 * holder's renewTime with local time, so clock skew between nodes cannot hand the lease
 * to two holders (client-go does the same).
 */
export function decideLease(
  current: LeaseRecord,
  observed: Observation,
  identity: string,
  now: number,
  leaseDurationSeconds: number,
): LeaseDecision {
  const held = current.holderIdentity !== "" && current.holderIdentity !== identity;
  const expired = now >= observed.at + current.leaseDurationSeconds * 1000;
  if (held && !expired) return { action: "wait", holder: current.holderIdentity };
  const stamp = microTime(now);
  if (current.holderIdentity === identity) {
    return { action: "write", takeover: false, record: { ...current, leaseDurationSeconds, renewTime: stamp } };
  }
  return {
    action: "write",
    takeover: true,
    record: {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: stamp,
      renewTime: stamp,
      leaseTransitions: current.leaseTransitions + 1,
    },
  };
}

/** The record a holder leaves on a clean stop: anyone may take it at once. */
export function releasedRecord(current: LeaseRecord, now: number): LeaseRecord {
  const stamp = microTime(now);
  return { ...current, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp };
}

export function newLeaseRecord(identity: string, leaseDurationSeconds: number, now: number): LeaseRecord {
  const stamp = microTime(now);
  return { holderIdentity: identity, leaseDurationSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 };
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** Notes the local time when the record changed; keeps the old time when it did not. */
export function observe(previous: Observation | undefined, current: LeaseRecord, now: number): Observation {
  const record = JSON.stringify([current.holderIdentity, current.renewTime, current.acquireTime, current.leaseTransitions]);
  return previous && previous.record === record ? previous : { record, at: now };
}
