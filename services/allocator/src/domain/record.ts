import type { AllocatedPort, Allocation, AllocationState, ServiceResource } from "@sharedlb/contracts";

/** What the slot store keeps per Service: its allocation plus what fences and retries need. */
export interface SlotRecord {
  owner: string;
  cluster: string;
  namespace: string;
  name: string;
  uid: string;
  /** LB_RESOURCES sequence of the last event applied (the ordering fence). */
  seq: number;
  /** Sequence of the event that last changed the allocation. */
  resourceSequence: number;
  /** Increases with every change; publication and purging are keyed on it. */
  version: number;
  state: AllocationState;
  pool: string;
  ip: string;
  ports: AllocatedPort[];
  /** `ip|PROTO|port` of every slot held. */
  slots: string[];
  reason: string;
  message: string;
  /** The Service as last seen, so a Pending one can be retried without a new event. */
  resource: ServiceResource | null;
  /** LB_ALLOCATIONS sequence of the published allocation (0 = not yet). */
  allocSeq: number;
  releasedAt: number;
  /** Sequence of the first event of the current object (uid); absent in older records. */
  incarnationSeq?: number;
}

/** Lua's JSON encoder writes empty arrays as `{}`; restore the shapes the contract needs. */
export function normalizeRecord(raw: SlotRecord): SlotRecord {
  const arr = <T>(v: T[] | Record<string, never> | undefined): T[] => (Array.isArray(v) ? v : []);
  const resource = raw.resource && typeof raw.resource === "object" ? { ...raw.resource, ports: arr(raw.resource.ports) } : null;
  if (resource && Array.isArray(resource.annotations)) resource.annotations = {};
  return { ...raw, ports: arr(raw.ports), slots: arr(raw.slots), resource };
}

export function toAllocation(r: SlotRecord): Allocation {
  return {
    cluster: r.cluster,
    namespace: r.namespace,
    name: r.name,
    uid: r.uid,
    state: r.state,
    pool: r.pool,
    ip: r.state === "Allocated" ? r.ip : "",
    ports: r.state === "Allocated" ? r.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port, externalPort: p.externalPort, nodePort: p.nodePort })) : [],
    reason: r.reason,
    message: r.message,
    resourceSequence: r.resourceSequence,
    allocationVersion: r.version,
  };
}
