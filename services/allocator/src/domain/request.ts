import { ANNOTATIONS, type AllocationReason, type ServiceResource, parsePortMappings, PortMappingSyntaxError } from "@sharedlb/contracts";
import { canonicalIp } from "./addresses.js";
import { type AllocatorPolicy, matchesSelector, type Pool } from "./pools.js";

/** What one service port asks for. */
export interface PortWish {
  name: string;
  protocol: "TCP" | "UDP";
  port: number;
  nodePort: number;
  /** The external port wanted: the service port, or the `sharedlb.io/ports` mapping. */
  want: number;
  /** `port-policy: any`: another free port of the pool's range is acceptable. */
  remap: boolean;
}

/** A request the slot store can search for atomically. */
export interface ClaimRequest {
  pool: string;
  /** IPs that may be used, in pool order; one when `sharedlb.io/ip` pins it. */
  ips: readonly string[];
  pinned: boolean;
  ports: PortWish[];
  range: { lo: number; hi: number };
  quota: { services: number; ports: number };
}

/** A Service whose request can never be served as written: the user must change it. */
export interface Rejection {
  reason: AllocationReason;
  message: string;
}

export type Plan = { kind: "claim"; request: ClaimRequest } | { kind: "reject"; rejection: Rejection };

const reject = (reason: AllocationReason, message: string): Plan => ({ kind: "reject", rejection: { reason, message } });

/**
 * Turns a Service into a claim request, or a rejection naming the problem. Pure: the same
 * Service and policy always give the same plan, on every replica.
 */
export function planClaim(svc: ServiceResource, policy: AllocatorPolicy): Plan {
  const ann = svc.annotations;
  const known = new Set<string>(Object.values(ANNOTATIONS));
  const unknown = Object.keys(ann).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    return reject("InvalidAnnotation", `unknown annotation ${unknown.map((k) => `"${k}"`).join(", ")}; known: ${[...known].filter((k) => k !== ANNOTATIONS.allocatedPorts).join(", ")}`);
  }

  const pool = resolvePool(ann, svc.cluster, svc.namespace, policy);
  if ("rejection" in pool) return { kind: "reject", rejection: pool.rejection };

  const policyText = ann[ANNOTATIONS.portPolicy]?.trim() ?? "same";
  if (policyText !== "same" && policyText !== "any") {
    return reject("InvalidAnnotation", `${ANNOTATIONS.portPolicy}: "${policyText}" is not "same" or "any"`);
  }
  const remap = policyText === "any";

  const proxy = ann[ANNOTATIONS.proxyProtocol]?.trim();
  if (proxy !== undefined && proxy !== "" && proxy !== "v1" && proxy !== "v2") {
    return reject("InvalidAnnotation", `${ANNOTATIONS.proxyProtocol}: "${proxy}" is not "v1" or "v2"`);
  }

  const candidates = candidateIps(pool, ann, svc.loadBalancerIP);
  if ("rejection" in candidates) return { kind: "reject", rejection: candidates.rejection };
  const { ips, pinned } = candidates;

  let mappings: ReturnType<typeof parsePortMappings> = [];
  const mapText = ann[ANNOTATIONS.ports];
  if (mapText !== undefined) {
    try {
      mappings = parsePortMappings(mapText);
    } catch (err) {
      if (err instanceof PortMappingSyntaxError) return reject("InvalidAnnotation", `${ANNOTATIONS.ports}: ${err.message}`);
      throw err;
    }
  }

  if (svc.ports.length === 0) return reject("InvalidAnnotation", "the Service has no ports");
  const wishes: PortWish[] = [];
  for (const p of svc.ports) {
    if (p.protocol !== "TCP" && p.protocol !== "UDP") {
      return reject("UnsupportedProtocol", `port ${p.name || p.port}/${p.protocol}: only TCP and UDP are served`);
    }
    const m = mappings.find((x) => x.servicePort === p.port && (x.protocol === undefined || x.protocol === p.protocol));
    wishes.push({ name: p.name, protocol: p.protocol, port: p.port, nodePort: p.nodePort, want: m?.externalPort ?? p.port, remap });
  }
  for (const m of mappings) {
    if (!svc.ports.some((p) => p.port === m.servicePort && (m.protocol === undefined || m.protocol === p.protocol))) {
      return reject("InvalidAnnotation", `${ANNOTATIONS.ports}: the Service has no port ${m.servicePort}${m.protocol ? `/${m.protocol}` : ""}`);
    }
  }
  const seen = new Map<string, PortWish>();
  for (const w of wishes) {
    const key = `${w.protocol}/${w.want}`;
    const other = seen.get(key);
    if (other && !remap) {
      return reject("InvalidAnnotation", `ports ${other.port} and ${w.port} both want external ${key}`);
    }
    seen.set(key, w);
  }
  if (!remap) {
    const outside = wishes.find((w) => w.want < pool.ports.lo || w.want > pool.ports.hi);
    if (outside) {
      return reject(
        "PortUnavailable",
        `external port ${outside.want}/${outside.protocol} is outside pool "${pool.name}" range ${pool.ports.lo}-${pool.ports.hi}; allow remapping with ${ANNOTATIONS.portPolicy}: any`,
      );
    }
  }
  const q = policy.quotaFor(svc.cluster);
  return { kind: "claim", request: { pool: pool.name, ips, pinned, ports: wishes, range: pool.ports, quota: { services: q.services, ports: q.ports } } };
}

/** The pool named by `sharedlb.io/pool` (or the default), if it serves the object's cluster and namespace. */
export function resolvePool(ann: Readonly<Record<string, string>>, cluster: string, namespace: string, policy: AllocatorPolicy): Pool | { rejection: Rejection } {
  const poolName = ann[ANNOTATIONS.pool]?.trim() || policy.defaultPool;
  const pool = policy.pools.get(poolName);
  if (!pool) {
    return { rejection: { reason: "UnknownPool", message: `${ANNOTATIONS.pool}: no pool is named "${poolName}" (pools: ${[...policy.pools.keys()].join(", ")})` } };
  }
  if (!matchesSelector(pool.clusters, cluster)) return { rejection: { reason: "UnknownPool", message: `pool "${poolName}" does not serve cluster "${cluster}"` } };
  if (!matchesSelector(pool.namespaces, namespace)) return { rejection: { reason: "UnknownPool", message: `pool "${poolName}" does not serve namespace "${namespace}"` } };
  return pool;
}

/** The IPs an object may get: the pool's, or the one `sharedlb.io/ip` (or `spec.loadBalancerIP`) pins. */
export function candidateIps(pool: Pool, ann: Readonly<Record<string, string>>, loadBalancerIP?: string): { ips: readonly string[]; pinned: boolean } | { rejection: Rejection } {
  const pin = pinnedIp(ann[ANNOTATIONS.ip], loadBalancerIP);
  if (pin && "rejection" in pin) return pin;
  // The pool's own (immutable) list: a /16 is not copied per claim.
  if (!pin) return { ips: pool.ips, pinned: false };
  if (!pool.ipSet.has(pin.ip)) return { rejection: { reason: "IPNotInPool", message: `${pin.source}: ${pin.ip} is not in pool "${pool.name}"` } };
  return { ips: [pin.ip], pinned: true };
}

const LOAD_BALANCER_IP = "spec.loadBalancerIP";

/**
 * The IP a Service pins: `sharedlb.io/ip`, or the deprecated `spec.loadBalancerIP`, which
 * means the same. Both set and naming different addresses is refused rather than guessed.
 */
function pinnedIp(annotation: string | undefined, loadBalancerIP: string | undefined): { ip: string; source: string } | { rejection: Rejection } | undefined {
  const parse = (source: string, text: string): { ip: string; source: string } | { rejection: Rejection } => {
    try {
      return { ip: canonicalIp(text), source };
    } catch {
      return { rejection: { reason: "InvalidAnnotation", message: `${source}: "${text}" is not an IP address` } };
    }
  };
  const fromAnnotation = annotation?.trim() ? parse(ANNOTATIONS.ip, annotation.trim()) : undefined;
  const fromSpec = loadBalancerIP?.trim() ? parse(LOAD_BALANCER_IP, loadBalancerIP.trim()) : undefined;
  if (!fromAnnotation || !fromSpec) return fromAnnotation ?? fromSpec;
  if ("rejection" in fromAnnotation) return fromAnnotation;
  if ("rejection" in fromSpec) return fromSpec;
  if (fromAnnotation.ip !== fromSpec.ip) {
    return {
      rejection: {
        reason: "InvalidAnnotation",
        message: `${ANNOTATIONS.ip}: ${fromAnnotation.ip} and ${LOAD_BALANCER_IP}: ${fromSpec.ip} name different addresses; set one of them`,
      },
    };
  }
  return fromAnnotation;
}
