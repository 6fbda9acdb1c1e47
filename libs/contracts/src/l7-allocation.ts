import { type Static, Type } from "@sinclair/typebox";
import { ListenerProtocol } from "./l7-resources.js";
import { AllocationState } from "./payloads.js";
import { ClusterId, DottedName, Generation, Hostname, IpLiteral, Namespace, OptionalPort, Uid } from "./primitives.js";

/** Object kinds that get an L7 allocation, as their subject token. */
export const L7_ALLOCATION_KINDS = ["ingress", "gateway", "httproute", "grpcroute", "tlsroute"] as const;
export type L7AllocationKind = (typeof L7_ALLOCATION_KINDS)[number];

/** Stable reasons for a hostname the allocator did not give to this object. */
export const HOSTNAME_REFUSAL_REASONS = ["HostnameConflict", "InvalidRoute", "QuotaExceeded"] as const;

export const RefusedHostname = Type.Object(
  {
    hostname: Hostname,
    reason: Type.Union(HOSTNAME_REFUSAL_REASONS.map((r) => Type.Literal(r))),
    message: Type.String({
      maxLength: 4096,
      description: "HostnameConflict names no other tenant's objects, only that the hostname is taken",
    }),
  },
  { additionalProperties: false },
);
export type RefusedHostname = Static<typeof RefusedHostname>;

export const ListenerAllocation = Type.Object(
  {
    name: Type.String({ maxLength: 253, description: "the Gateway listener's name; for an Ingress: http or https" }),
    protocol: ListenerProtocol,
    state: AllocationState,
    pool: Type.String({ maxLength: 253 }),
    ip: Type.String({ maxLength: 45, description: "empty unless Allocated" }),
    ips: Type.Optional(Type.Array(IpLiteral, { maxItems: 2, description: "one per IP family; ip is the first" })),
    port: OptionalPort,
    shared: Type.Boolean({ description: "a shared L7 slot (hostnames claimed), or an (IP, port) of its own" }),
    claimedHostnames: Type.Array(Hostname, { maxItems: 1024 }),
    refusedHostnames: Type.Array(RefusedHostname, { maxItems: 1024 }),
    reason: Type.String({ maxLength: 64, description: "empty, or one of the stable allocation reasons" }),
    message: Type.String({ maxLength: 4096 }),
  },
  { additionalProperties: false },
);
export type ListenerAllocation = Static<typeof ListenerAllocation>;

export const L7Allocation = Type.Object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: DottedName,
    kind: Type.Union(L7_ALLOCATION_KINDS.map((k) => Type.Literal(k))),
    uid: Uid,
    generation: Type.Optional(Generation),
    state: AllocationState,
    listeners: Type.Array(ListenerAllocation, { maxItems: 64 }),
    reason: Type.String({ maxLength: 64 }),
    message: Type.String({ maxLength: 4096 }),
    resourceSequence: Type.Integer({ minimum: 0, description: "LB_RESOURCES sequence of the resource event applied" }),
    allocationVersion: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false, $id: "io.sharedlb.l7allocation.v1" },
);
export type L7Allocation = Static<typeof L7Allocation>;

/**
 * The object-level state from its listeners': Allocated when every listener is,
 * otherwise Pending when one waits for capacity, otherwise Failed. `Released` is only
 * ever set for an object that left sharedlb.
 */
export function l7AllocationState(listeners: readonly Pick<ListenerAllocation, "state">[]): Static<typeof AllocationState> {
  if (listeners.length > 0 && listeners.every((l) => l.state === "Allocated")) return "Allocated";
  if (listeners.some((l) => l.state === "Pending")) return "Pending";
  return listeners.length === 0 ? "Pending" : "Failed";
}

