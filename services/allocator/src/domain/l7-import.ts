import type { L7Allocation } from "@sharedlb/contracts";
import { hostnamesConflict } from "./hostnames.js";
import { l7Owner } from "./l7-owner.js";
import type { L7Claim } from "./l7-placement.js";
import { formatL7Claims, type L7Record } from "./l7-record.js";

/** A published L7 allocation as the slot table takes it back after a Redis data loss. */
export interface L7Import {
  record: L7Record;
  claims: L7Claim[];
  /** The record differs from the published allocation: publish it again. */
  republish: boolean;
}

/**
 * The record and claims a published L7 allocation stands for. `held` has the claims imported
 * so far (`ip|port` → cluster and hostname); a claim that would overlap another tenant's
 * (the stream held an outdated allocation) is not taken: the object then waits and is planned again.
 */
export function l7ImportOf(a: L7Allocation, seq: number, resource: string, held: Map<string, { cluster: string; hostname: string }[]>): L7Import {
  const kind = a.kind === "gateway" ? "gateway" : "ingress";
  const claims: L7Claim[] = [];
  const live = a.state === "Allocated" || a.state === "Pending" || a.state === "Failed" ? a.listeners.filter((l) => l.state === "Allocated") : [];
  for (const l of live) {
    for (const hostname of l.shared ? l.claimedHostnames : [""]) claims.push({ ip: l.ip, port: l.port, hostname, kind: l.protocol === "HTTP" ? "http" : "tls" });
  }
  const overlaps = claims.some((c) =>
    (held.get(`${c.ip}|${c.port}`) ?? []).some((h) => h.cluster !== a.cluster && (h.hostname === "" || c.hostname === "" || hostnamesConflict(h.hostname, c.hostname))),
  );
  const taken = overlaps ? [] : claims;
  for (const c of taken) held.set(`${c.ip}|${c.port}`, [...(held.get(`${c.ip}|${c.port}`) ?? []), { cluster: a.cluster, hostname: c.hostname }]);
  const waits = overlaps || a.listeners.some((l) => l.state === "Pending" || l.refusedHostnames.length > 0);
  const base: L7Record = {
    owner: l7Owner(a.cluster, a.namespace, a.name, kind),
    kind,
    cluster: a.cluster,
    namespace: a.namespace,
    name: a.name,
    uid: a.uid,
    generation: a.generation ?? 0,
    seq: a.resourceSequence,
    resourceSequence: a.resourceSequence,
    version: a.allocationVersion ?? 0,
    state: a.state,
    reason: a.reason,
    message: a.message,
    pool: a.listeners.find((l) => l.pool !== "")?.pool ?? "",
    ip: taken[0]?.ip ?? "",
    claims: formatL7Claims(taken),
    costServices: taken.length > 0 ? 1 : 0,
    costPorts: taken.length,
    listeners: JSON.stringify(a.listeners),
    waits,
    resource,
    allocSeq: seq,
    releasedAt: 0,
    incarnationSeq: a.resourceSequence,
  };
  if (!overlaps) return { record: base, claims: taken, republish: false };
  // The lines Lua writes when a slot is gone, for the same reason.
  return {
    record: { ...base, state: "Pending", reason: "PortUnavailable", message: "slot taken while re-importing after Redis data loss", listeners: "[]", version: base.version + 1 },
    claims: [],
    republish: true,
  };
}
