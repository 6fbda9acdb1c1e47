import { type Allocation, type AllocatedPort, AllocationState, type ServiceResource, validateData } from "@sharedlb/contracts";
import { type Static, Type } from "@sinclair/typebox";
import type { PortClaim } from "./placement.js";

/**
 * What the slot table keeps per Service, exactly as the Lua scripts write it: flat, with no
 * lists (Lua's JSON encoder cannot tell an empty list from an empty object), so what Redis
 * returns is validated against this schema and never repaired.
 */
/** The fields every record has (Services', Gateways', Ingresses'); the scripts' fences read them. */
export const RECORD_FIELDS = {
  owner: Type.String(),
  cluster: Type.String(),
  namespace: Type.String(),
  name: Type.String(),
  uid: Type.String(),
  /** LB_RESOURCES sequence of the last event applied (the ordering fence). */
  seq: Type.Integer({ minimum: 0 }),
  /** Sequence of the event that last changed the allocation. */
  resourceSequence: Type.Integer({ minimum: 0 }),
  /** Increases with every change of the published allocation. */
  version: Type.Integer({ minimum: 0 }),
  state: AllocationState,
  pool: Type.String(),
  ip: Type.String(),
  reason: Type.String(),
  message: Type.String(),
  /** The tenant object as last seen (JSON, kept opaque by Lua), so a waiting one can be retried. */
  resource: Type.String(),
  /** LB_ALLOCATIONS sequence of the published allocation (0 = not yet). */
  allocSeq: Type.Integer({ minimum: 0 }),
  releasedAt: Type.Number({ minimum: 0 }),
  /** Sequence of the first event of the current object (uid): older objects' events are stale. */
  incarnationSeq: Type.Integer({ minimum: 0 }),
};

export const SlotRecordSchema = Type.Object({
  ...RECORD_FIELDS,
  /** The ports held, `PROTO/port=externalPort,…`; the slots are `ip|PROTO|externalPort`. */
  claims: Type.String({ pattern: "^((TCP|UDP)/\\d+=\\d+(,(TCP|UDP)/\\d+=\\d+)*)?$" }),
});
export type SlotRecord = Static<typeof SlotRecordSchema>;

export function parseClaims(text: string): PortClaim[] {
  if (text === "") return [];
  return text.split(",").map((part) => {
    const [proto, ports] = part.split("/") as [string, string];
    const [port, ext] = ports.split("=");
    return { protocol: proto === "UDP" ? "UDP" : "TCP", port: Number(port), externalPort: Number(ext) };
  });
}

export const formatClaims = (claims: readonly PortClaim[]): string => claims.map((c) => `${c.protocol}/${c.port}=${c.externalPort}`).join(",");

/**
 * Services already validated (at the boundary, as the event that an apply carried), by the
 * record that keeps them as JSON: an apply's reply is read several times (second family,
 * the merged allocation), and parsing and validating its Service each time cost more than
 * the claim itself on the allocator's side.
 */
const validated = new WeakMap<SlotRecord, ServiceResource>();

/** `r` keeps `svc` as `json` (the apply's own resource, sent as that text): recordResource(r) is `svc`. */
export function rememberResource(r: SlotRecord, svc: ServiceResource, json: string): void {
  if (r.resource === json) validated.set(r, svc);
}

/** The Service a record was last planned from, or null when it has none or it no longer validates. */
export function recordResource(r: SlotRecord): ServiceResource | null {
  const known = validated.get(r);
  if (known) return known;
  const data = storedJson(r.resource);
  if (!validateData("io.sharedlb.service.v1", data)) return null;
  validated.set(r, data);
  return data;
}

/** A JSON string a record keeps for TS (Lua never reads it); undefined when empty or not JSON. */
export function storedJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The published allocation. Port names and NodePorts come from the Service as last seen, not
 * from the slots: a NodePort edit changes what is published without moving any slot.
 */
export function toAllocation(r: SlotRecord): Allocation {
  const svc = recordResource(r);
  const ports: AllocatedPort[] =
    r.state === "Allocated"
      ? parseClaims(r.claims).map((c) => {
          const spec = svc?.ports.find((p) => p.protocol === c.protocol && p.port === c.port);
          return { name: spec?.name ?? "", protocol: c.protocol, port: c.port, externalPort: c.externalPort, nodePort: spec?.nodePort ?? 0 };
        })
      : [];
  return {
    cluster: r.cluster,
    namespace: r.namespace,
    name: r.name,
    uid: r.uid,
    state: r.state,
    pool: r.pool,
    ip: r.state === "Allocated" ? r.ip : "",
    ports,
    reason: r.reason,
    message: r.message,
    resourceSequence: r.resourceSequence,
    allocationVersion: r.version,
  };
}
