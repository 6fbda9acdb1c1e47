import { ANNOTATIONS, type GatewayResource, type ListenerProtocol, type RouteResource } from "@sharedlb/contracts";
import type { AllocatorPolicy } from "./pools.js";
import { candidateIps, type Rejection, resolvePool } from "./request.js";

/** What an L7 (IP, TCP, port) slot carries: plain HTTP, or TLS (HTTPS terminated or passed through). */
export type L7SlotKind = "http" | "tls";

/** One listener of a Gateway or Ingress as it asks for a slot. */
export interface L7ListenerWish {
  name: string;
  protocol: ListenerProtocol;
  port: number;
  kind: L7SlotKind;
  /** The hostnames to claim; empty with `exclusive`: every hostname, on an (IP, port) of the tenant's own. */
  hostnames: string[];
  exclusive: boolean;
  /** Set when the listener can never be served as written. */
  failure?: Rejection;
}

export interface L7ClaimRequest {
  pool: string;
  /** In pool order; one when `sharedlb.io/ip` pins it. */
  ips: readonly string[];
  pinned: boolean;
  listeners: L7ListenerWish[];
  quota: { services: number; ports: number };
}

export type L7Plan = { kind: "claim"; request: L7ClaimRequest } | { kind: "reject"; rejection: Rejection };

/** The annotations that mean something on a Gateway or an Ingress. */
const L7_ANNOTATIONS: readonly string[] = [ANNOTATIONS.pool, ANNOTATIONS.ip];

/**
 * Turns a Gateway or an Ingress into an L7 claim request (docs/l7-model.md §2), or a
 * rejection naming the problem. Pure: the same object and policy give the same plan everywhere.
 */
export function planL7(resource: GatewayResource | RouteResource, policy: AllocatorPolicy): L7Plan {
  const ann = resource.annotations;
  const unknown = Object.keys(ann).filter((k) => !L7_ANNOTATIONS.includes(k));
  if (unknown.length > 0) {
    return reject("InvalidAnnotation", `annotation ${unknown.map((k) => `"${k}"`).join(", ")} has no meaning on a Gateway or an Ingress; known: ${L7_ANNOTATIONS.join(", ")}`);
  }
  const pool = resolvePool(ann, resource.cluster, resource.namespace, policy);
  if ("rejection" in pool) return { kind: "reject", rejection: pool.rejection };
  const candidates = candidateIps(pool, ann);
  if ("rejection" in candidates) return { kind: "reject", rejection: candidates.rejection };

  const listeners = "listeners" in resource ? gatewayListeners(resource) : ingressListeners(resource);
  if (listeners.length === 0) {
    return reject("InvalidRoute", "sourceKind" in resource ? "the Ingress has no hosts, rules or default backend" : "the Gateway has no listeners");
  }
  const byPort = new Map<number, L7ListenerWish>();
  for (const l of listeners) {
    if (l.failure) continue;
    if (l.port < pool.ports.lo || l.port > pool.ports.hi) {
      l.failure = { reason: "PortUnavailable", message: `listener ${l.name}: port ${l.port} is outside pool "${pool.name}" range ${pool.ports.lo}-${pool.ports.hi}` };
      continue;
    }
    // One (IP, port) serves one protocol family: HTTP and HTTPS on one port cannot both be served.
    const first = byPort.get(l.port);
    if (first && first.kind !== l.kind) {
      l.failure = { reason: "PortUnavailable", message: `listener ${l.name}: port ${l.port} is also listener ${first.name}'s, with protocol ${first.protocol}` };
      continue;
    }
    byPort.set(l.port, first ?? l);
  }
  const q = policy.quotaFor(resource.cluster);
  return { kind: "claim", request: { pool: pool.name, ...candidates, listeners, quota: { services: q.services, ports: q.ports } } };
}

const reject = (reason: Rejection["reason"], message: string): L7Plan => ({ kind: "reject", rejection: { reason, message } });

function gatewayListeners(gw: GatewayResource): L7ListenerWish[] {
  return gw.listeners.map((l) => {
    const base = { name: l.name, protocol: l.protocol, port: l.port, hostnames: l.hostname ? [l.hostname] : [], exclusive: !l.hostname };
    if (l.protocol === "HTTP") return { ...base, kind: "http" };
    if (l.protocol === "HTTPS" || l.protocol === "TLS") return { ...base, kind: "tls" };
    return { ...base, kind: "tls", failure: { reason: "UnsupportedProtocol", message: `listener ${l.name}: protocol ${l.protocol} is not served yet (HTTP, HTTPS and TLS are)` } };
  });
}

/**
 * An Ingress has listener `http` on 80 with every host of its rules and TLS entries, and with
 * `tls[]` listener `https` on 443 with the TLS hosts. A rule without a host, or a default
 * backend, answers for every hostname: such an Ingress never shares its ports.
 */
function ingressListeners(ing: RouteResource): L7ListenerWish[] {
  const tls = ing.tls ?? [];
  const hostless = ing.defaultBackend !== undefined || ing.rules.some((r) => (r.hostnames ?? []).length === 0);
  const all = unique([...ing.hostnames, ...ing.rules.flatMap((r) => r.hostnames ?? []), ...tls.flatMap((t) => t.hosts)]);
  const out: L7ListenerWish[] = [];
  if (all.length > 0 || hostless) out.push({ name: "http", protocol: "HTTP", port: 80, kind: "http", hostnames: hostless ? [] : all, exclusive: hostless });
  if (tls.length > 0) {
    const hosts = unique(tls.flatMap((t) => t.hosts));
    const every = hostless || hosts.length === 0;
    out.push({ name: "https", protocol: "HTTPS", port: 443, kind: "tls", hostnames: every ? [] : hosts, exclusive: every });
  }
  return out;
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs)].sort();
