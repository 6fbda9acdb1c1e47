import { type GatewayResource, type L7Allocation, ListenerAllocation, type RouteResource, validateData } from "@sharedlb/contracts";
import { type Static, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { L7OwnerKind } from "./l7-owner.js";
import type { L7Claim } from "./l7-placement.js";
import { RECORD_FIELDS, storedJson } from "./slot-record.js";

/**
 * What the slot table keeps per Gateway or Ingress, exactly as `lua/l7-apply.lua` writes it:
 * flat (Lua's JSON encoder cannot tell an empty list from an empty object), so the
 * listeners and the tenant object are JSON strings Lua keeps opaque.
 */
export const L7RecordSchema = Type.Object({
  ...RECORD_FIELDS,
  kind: Type.Union([Type.Literal("gateway"), Type.Literal("ingress")]),
  generation: Type.Integer({ minimum: 0 }),
  /** The claims held, `ip|port|hostname,…` (hostname empty: every hostname). */
  claims: Type.String(),
  /** Its share of the tenant's quota. */
  costServices: Type.Integer({ minimum: 0 }),
  costPorts: Type.Integer({ minimum: 0 }),
  /** The published listeners (JSON of ListenerAllocation[]). */
  listeners: Type.String(),
  /** Retried when claims are released (Pending, or a hostname refused). */
  waits: Type.Boolean(),
});
export type L7Record = Static<typeof L7RecordSchema>;

export const formatL7Claims = (claims: readonly Pick<L7Claim, "ip" | "port" | "hostname">[]): string => claims.map((c) => `${c.ip}|${c.port}|${c.hostname}`).join(",");

export function parseL7Claims(text: string): { ip: string; port: number; hostname: string }[] {
  if (text === "") return [];
  return text.split(",").map((part) => {
    const [ip = "", port = "0", hostname = ""] = part.split("|");
    return { ip, port: Number(port), hostname };
  });
}

const listenerList = TypeCompiler.Compile(Type.Array(ListenerAllocation));

/** The listeners as published; a record whose listeners do not validate publishes none. */
export function recordListeners(r: L7Record): ListenerAllocation[] {
  const v = storedJson(r.listeners);
  return listenerList.Check(v) ? v : [];
}

/** The Gateway or Ingress the record was last planned from, or null when it has none or it no longer validates. */
export function recordL7Resource(r: L7Record): GatewayResource | RouteResource | null {
  const data = storedJson(r.resource);
  if (r.kind === "gateway") return validateData("io.sharedlb.gateway.v1", data) ? data : null;
  return validateData("io.sharedlb.route.v1", data) && data.sourceKind === "Ingress" ? data : null;
}

export function toL7Allocation(r: L7Record): L7Allocation {
  const kind: L7OwnerKind = r.kind;
  return {
    cluster: r.cluster,
    namespace: r.namespace,
    name: r.name,
    kind,
    uid: r.uid,
    generation: r.generation,
    state: r.state,
    listeners: r.state === "Released" ? [] : recordListeners(r),
    reason: r.reason,
    message: r.message,
    resourceSequence: r.resourceSequence,
    allocationVersion: r.version,
  };
}
