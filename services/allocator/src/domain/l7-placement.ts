import { l7AllocationState, type ListenerAllocation, type RefusedHostname } from "@sharedlb/contracts";
import { hostnamesConflict } from "./hostnames.js";
import type { L7ClaimRequest, L7ListenerWish, L7SlotKind } from "./l7-request.js";

/**
 * The L7 placement rule (docs/l7-model.md §2): which IP, which hostnames, or why not. It is
 * decided here, on a consistent snapshot of the pool, and committed by `lua/l7-apply.lua`
 * only if the pool's L7 claims have not changed since (and no Service took a slot), so
 * this is the only copy of the rule.
 */

/** One hostname claim on an (IP, port); `hostname: ""` claims every hostname (exclusive). */
export interface L7Claim {
  ip: string;
  port: number;
  hostname: string;
  kind: L7SlotKind;
}

/** A claim someone holds on an (IP, port), quarantined after its owner let it go. */
export interface L7Holder {
  owner: string;
  cluster: string;
  hostname: string;
  quarantined: boolean;
}

/** What the pool looks like to one claim. */
export interface L7Occupancy {
  /** `ip|port` → every L7 claim on it. */
  claims: ReadonlyMap<string, readonly L7Holder[]>;
  /** `ip|port` → what holds that TCP slot: a Service (`L4`, also in quarantine) or L7 of a kind; absent: free. */
  slots: ReadonlyMap<string, "L4" | L7SlotKind>;
  /** Slots held per IP (L4 and L7, quarantined included). */
  load: ReadonlyMap<string, number>;
  /** Gateways/Ingresses/Services and ports the claiming tenant cluster holds, over all pools. */
  quotaUsed: { services: number; ports: number };
}

/** What this object holds now (its quota share). */
export interface HeldL7 {
  pool: string;
  ip: string;
  services: number;
  ports: number;
}

export interface L7Placement {
  ip: string;
  claims: L7Claim[];
  listeners: ListenerAllocation[];
  state: ListenerAllocation["state"];
  reason: string;
  message: string;
  /** Retry when claims are released: something waits, or a hostname was refused. */
  waits: boolean;
  cost: { services: number; ports: number };
}

/** The contract's bound on a message. */
const clip = (text: string): string => (text.length > 4096 ? `${text.slice(0, 4093)}...` : text);

export const l7SlotName = (ip: string, port: number): string => `${ip}|${port}`;

interface Fit {
  claims: L7Claim[];
  listeners: ListenerAllocation[];
  refused: number;
}

/** Decides where a Gateway's or Ingress's listeners land. Pure: the same inputs give the same placement everywhere. */
export function placeL7(req: L7ClaimRequest, cluster: string, held: HeldL7 | undefined, occ: L7Occupancy): L7Placement {
  const active = req.listeners.filter((l) => !l.failure);
  const failed = req.listeners.filter((l) => l.failure).map((l) => listenerResult(l, req.pool, { state: "Failed", reason: l.failure?.reason ?? "", message: l.failure?.message ?? "" }));
  const finish = (ip: string, fit: Fit | undefined, waiting?: { reason: string; message: string }): L7Placement => {
    const served = fit?.listeners ?? active.map((l) => listenerResult(l, req.pool, { state: "Pending", reason: waiting?.reason ?? "", message: waiting?.message ?? "" }));
    const listeners = req.listeners.map((l) => served.find((s) => s.name === l.name && s.port === l.port) ?? failed.find((f) => f.name === l.name && f.port === l.port)) as ListenerAllocation[];
    const state = l7AllocationState(listeners);
    const why = listeners.find((l) => l.state === state && l.reason) ?? listeners.find((l) => l.reason);
    const claims = fit?.claims ?? [];
    return {
      ip: claims.length > 0 ? ip : "",
      claims,
      listeners,
      state,
      reason: state === "Allocated" ? "" : (why?.reason ?? ""),
      message: state === "Allocated" ? "" : clip(listeners.filter((l) => l.state !== "Allocated").map((l) => l.message).join("; ")),
      waits: listeners.some((l) => l.state === "Pending" || l.refusedHostnames.length > 0),
      cost: { services: claims.length > 0 ? 1 : 0, ports: claims.length },
    };
  };
  if (active.length === 0) return finish("", undefined);

  const used = { services: occ.quotaUsed.services - (held?.services ?? 0), ports: occ.quotaUsed.ports - (held?.ports ?? 0) };
  if (req.quota.services > 0 && used.services + 1 > req.quota.services) {
    return finish("", undefined, { reason: "QuotaExceeded", message: `cluster ${cluster} already has ${used.services} of ${req.quota.services} allowed Services, Gateways and Ingresses` });
  }

  const current = held && held.pool === req.pool ? held.ip : "";
  const fits = req.ips.map((ip, index) => ({ ip, index, fit: fitOn(ip, active, req.pool, cluster, occ) }));
  const order = fits
    .filter((c): c is { ip: string; index: number; fit: Fit } => c.fit !== undefined)
    .map((c) => ({ ...c, current: c.ip === current, tenant: tenantOn(c.ip, cluster, occ), packs: c.fit.refused === 0 && packsOn(c.ip, active, occ), load: occ.load.get(c.ip) ?? 0 }))
    .sort(
      (x, y) =>
        Number(y.current) - Number(x.current) ||
        Number(y.tenant) - Number(x.tenant) ||
        Number(y.packs) - Number(x.packs) ||
        x.fit.refused - y.fit.refused ||
        x.load - y.load ||
        x.index - y.index,
    );
  const best = order[0];
  if (!best) {
    const where = req.pinned ? `IP ${req.ips[0]}` : `any one IP of pool ${req.pool}`;
    const ports = [...new Set(active.map((l) => l.port))].join(", ");
    return finish("", undefined, { reason: "PortUnavailable", message: `port ${ports} cannot all be had on ${where} (taken by Services, or by another tenant's listener without a hostname)` });
  }
  if (req.quota.ports > 0 && used.ports + best.fit.claims.length > req.quota.ports) {
    return finish("", undefined, { reason: "QuotaExceeded", message: `cluster ${cluster} would use ${used.ports + best.fit.claims.length} of ${req.quota.ports} allowed ports (each hostname counts as one)` });
  }
  return finish(best.ip, best.fit);
}

function listenerResult(l: L7ListenerWish, pool: string, over: Partial<ListenerAllocation>): ListenerAllocation {
  return { name: l.name, protocol: l.protocol, state: "Pending", pool, ip: "", port: l.port, shared: !l.exclusive, claimedHostnames: [], refusedHostnames: [], reason: "", message: "", ...over };
}

/** Every listener on this IP, or undefined when one of them cannot have its port here. */
function fitOn(ip: string, listeners: readonly L7ListenerWish[], pool: string, cluster: string, occ: L7Occupancy): Fit | undefined {
  const claims = new Map<string, L7Claim>();
  const results: ListenerAllocation[] = [];
  let refused = 0;
  for (const l of listeners) {
    const slot = l7SlotName(ip, l.port);
    const holder = occ.slots.get(slot);
    // A Service's slot, or an L7 slot of the other protocol family (HTTP vs TLS), is not ours to share.
    if (holder !== undefined && holder !== l.kind) return undefined;
    const foreign = (occ.claims.get(slot) ?? []).filter((h) => h.cluster !== cluster);
    const add = (hostname: string) => claims.set(`${slot}|${hostname}`, { ip, port: l.port, hostname, kind: l.kind });
    if (l.exclusive) {
      if (foreign.length > 0) return undefined;
      add("");
      results.push(listenerResult(l, pool, { state: "Allocated", ip }));
      continue;
    }
    // Another tenant's listener without a hostname takes every hostname of the port.
    if (foreign.some((h) => h.hostname === "")) return undefined;
    const got: string[] = [];
    const refusedHere: RefusedHostname[] = [];
    for (const hostname of l.hostnames) {
      if (foreign.some((h) => hostnamesConflict(h.hostname, hostname))) {
        refusedHere.push({ hostname, reason: "HostnameConflict", message: `${hostname} is already claimed on ${ip}:${l.port} by another tenant cluster` });
      } else {
        got.push(hostname);
        add(hostname);
      }
    }
    refused += refusedHere.length;
    results.push(
      got.length > 0
        ? listenerResult(l, pool, { state: "Allocated", ip, claimedHostnames: got, refusedHostnames: refusedHere })
        : listenerResult(l, pool, {
            state: "Pending",
            refusedHostnames: refusedHere,
            reason: "HostnameConflict",
            message: clip(`listener ${l.name}: ${refusedHere.map((r) => r.hostname).join(", ")} already claimed on ${ip}:${l.port} by another tenant cluster; retried when it is released`),
          }),
    );
  }
  const sorted = [...claims.values()].sort((x, y) => x.port - y.port || (x.hostname < y.hostname ? -1 : x.hostname > y.hostname ? 1 : 0));
  return { claims: sorted, listeners: results, refused };
}

/** The tenant cluster already has L7 claims on this IP: its DNS entries point here. */
function tenantOn(ip: string, cluster: string, occ: L7Occupancy): boolean {
  const prefix = `${ip}|`;
  for (const [slot, holders] of occ.claims) if (slot.startsWith(prefix) && holders.some((h) => h.cluster === cluster)) return true;
  return false;
}

/** One of the wanted ports is already a shared L7 slot here (tenants pack onto one IP :80/:443). */
function packsOn(ip: string, listeners: readonly L7ListenerWish[], occ: L7Occupancy): boolean {
  return listeners.some((l) => !l.exclusive && occ.slots.get(l7SlotName(ip, l.port)) === l.kind && !(occ.claims.get(l7SlotName(ip, l.port)) ?? []).some((h) => h.hostname === ""));
}
