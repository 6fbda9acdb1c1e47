import { ANNOTATIONS, type AllocationReason, type IpFamily, type ServiceResource, parsePortMappings, PortMappingSyntaxError } from "@sharedlb/contracts";
import { canonicalIp } from "./addresses.js";
import type { PortClaim } from "./placement.js";
import { type AllocatorPolicy, familyOfIp, matchesSelector, type Pool } from "./pools.js";

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
  const unknown = unknownAnnotations(svc.annotations);
  if (unknown) return { kind: "reject", rejection: unknown };
  const pool = resolvePool(svc.annotations, svc.cluster, svc.namespace, policy);
  if ("rejection" in pool) return { kind: "reject", rejection: pool.rejection };
  return planOnPool(svc, policy, pool, () => candidateIps(pool, svc.annotations, svc.loadBalancerIP));
}

function unknownAnnotations(ann: Readonly<Record<string, string>>): Rejection | undefined {
  const known = new Set<string>(Object.values(ANNOTATIONS));
  const unknown = Object.keys(ann).filter((k) => !known.has(k));
  if (unknown.length === 0) return undefined;
  return {
    reason: "InvalidAnnotation",
    message: `unknown annotation ${unknown.map((k) => `"${k}"`).join(", ")}; known: ${[...known].filter((k) => k !== ANNOTATIONS.allocatedPorts).join(", ")}`,
  };
}

type Candidates = { ips: readonly string[]; pinned: boolean } | { rejection: Rejection };

/** The rest of a claim once the pool is known: port policy, PROXY protocol, the IPs, the ports. */
function planOnPool(svc: ServiceResource, policy: AllocatorPolicy, pool: Pool, ipsOf: () => Candidates): Plan {
  const ann = svc.annotations;
  const policyText = ann[ANNOTATIONS.portPolicy]?.trim() ?? "same";
  if (policyText !== "same" && policyText !== "any") {
    return reject("InvalidAnnotation", `${ANNOTATIONS.portPolicy}: "${policyText}" is not "same" or "any"`);
  }
  const remap = policyText === "any";

  const proxy = ann[ANNOTATIONS.proxyProtocol]?.trim();
  if (proxy !== undefined && proxy !== "" && proxy !== "v1" && proxy !== "v2") {
    return reject("InvalidAnnotation", `${ANNOTATIONS.proxyProtocol}: "${proxy}" is not "v1" or "v2"`);
  }

  const candidates = ipsOf();
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
  return poolServing(ann[ANNOTATIONS.pool]?.trim() || policy.defaultPool, cluster, namespace, policy);
}

function poolServing(poolName: string, cluster: string, namespace: string, policy: AllocatorPolicy): Pool | { rejection: Rejection } {
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

/**
 * A Service's plan over IP families. `single`: one claim, exactly as planClaim makes it
 * (SingleStack, or PreferDualStack that found no pool of its second family: `note` says so).
 * `dual`: one claim per family; the second one's ports follow the first one's (see
 * followPorts), since an allocation has one port list for both addresses.
 */
export type StackPlan =
  | { kind: "single"; plan: Plan; note?: Rejection }
  | { kind: "dual"; primary: { family: IpFamily; request: ClaimRequest }; secondary: { family: IpFamily; request: ClaimRequest } };

const otherFamily = (f: IpFamily): IpFamily => (f === "IPv4" ? "IPv6" : "IPv4");

/**
 * The families a Service asks an address of, in its order: two only with PreferDualStack or
 * RequireDualStack (Kubernetes fills both then; RequireDualStack with one means both anyway).
 */
export function requestedFamilies(svc: Pick<ServiceResource, "ipFamilies" | "ipFamilyPolicy">): IpFamily[] {
  const first = svc.ipFamilies?.[0] ?? "IPv4";
  if (svc.ipFamilyPolicy === "RequireDualStack") return [first, otherFamily(first)];
  if (svc.ipFamilyPolicy === "PreferDualStack" && svc.ipFamilies?.length === 2) return [first, otherFamily(first)];
  return [first];
}

/** The family whose address a Service's second claim holds (its owner key names it). */
export const secondFamily = (svc: Pick<ServiceResource, "ipFamilies">): IpFamily => otherFamily(svc.ipFamilies?.[0] ?? "IPv4");

export function planStack(svc: ServiceResource, policy: AllocatorPolicy): StackPlan {
  const families = requestedFamilies(svc);
  const [first, second] = families;
  if (!first || !second) return { kind: "single", plan: planClaim(svc, policy) };
  const unknown = unknownAnnotations(svc.annotations);
  if (unknown) return { kind: "single", plan: { kind: "reject", rejection: unknown } };
  const pools = familyPools(svc, policy, families);
  if ("rejection" in pools) return { kind: "single", plan: { kind: "reject", rejection: pools.rejection } };
  const pins = pinsByFamily(svc.annotations[ANNOTATIONS.ip], svc.loadBalancerIP);
  if ("rejection" in pins) return { kind: "single", plan: { kind: "reject", rejection: pins.rejection } };
  const planFamily = (family: IpFamily, pool: Pool): Plan => planOnPool(svc, policy, pool, () => familyCandidates(pool, pins.get(family)));

  const required = svc.ipFamilyPolicy === "RequireDualStack";
  const p1 = pools.get(first);
  const p2 = pools.get(second);
  if (!p1 || !p2) {
    const missing = !p1 ? first : second;
    const why = `no ${missing} pool serves this Service (name one in ${ANNOTATIONS.pool}, e.g. "v4pool,v6pool", or set familyPools.${missing} in the pool file)`;
    const present = p1 ? { family: first, pool: p1 } : p2 ? { family: second, pool: p2 } : undefined;
    if (required || !present) {
      return { kind: "single", plan: reject("UnknownPool", `${svc.ipFamilyPolicy}: ${present ? why : `no IPv4 or IPv6 pool serves this Service`}`) };
    }
    return {
      kind: "single",
      plan: planFamily(present.family, present.pool),
      note: { reason: "UnknownPool", message: `PreferDualStack: ${why}; served on ${present.family} only` },
    };
  }
  const a = planFamily(first, p1);
  if (a.kind === "reject") return { kind: "single", plan: a };
  const b = planFamily(second, p2);
  if (b.kind === "reject") {
    const rejection = { reason: b.rejection.reason, message: `${second}: ${b.rejection.message}` };
    return required ? { kind: "single", plan: { kind: "reject", rejection } } : { kind: "single", plan: a, note: rejection };
  }
  return { kind: "dual", primary: { family: first, request: a.request }, secondary: { family: second, request: b.request } };
}

/**
 * The second family's request with the first family's external ports, remapping off: both
 * addresses serve a port on the same external port, so one port list describes both.
 */
export function followPorts(req: ClaimRequest, held: readonly PortClaim[]): ClaimRequest {
  return {
    ...req,
    ports: req.ports.map((w) => {
      const c = held.find((h) => h.protocol === w.protocol && h.port === w.port);
      return { ...w, want: c?.externalPort ?? w.want, remap: false };
    }),
  };
}

/**
 * The pool per requested family: `sharedlb.io/pool` may name one pool or one per family
 * (`v4pool,v6pool`, any order); a family none of the named pools has comes from the pool
 * file's `familyPools` (with no annotation, the default pool first when it has the family).
 */
function familyPools(svc: ServiceResource, policy: AllocatorPolicy, families: readonly IpFamily[]): Map<IpFamily, Pool> | { rejection: Rejection } {
  const text = svc.annotations[ANNOTATIONS.pool]?.trim() ?? "";
  const names = text === "" ? [] : text.split(",").map((n) => n.trim());
  if (names.length > 2 || names.some((n) => n === "")) {
    return { rejection: { reason: "InvalidAnnotation", message: `${ANNOTATIONS.pool}: "${text}" is not one pool name or two separated by a comma (one per IP family)` } };
  }
  const named: Pool[] = [];
  for (const n of names) {
    const pool = poolServing(n, svc.cluster, svc.namespace, policy);
    if ("rejection" in pool) return pool;
    named.push(pool);
  }
  const mixed = named.find((p) => p.families.length !== 1);
  if (mixed) {
    return { rejection: { reason: "InvalidAnnotation", message: `${ANNOTATIONS.pool}: pool "${mixed.name}" has IPv4 and IPv6 addresses; a dual-stack Service takes one pool per IP family` } };
  }
  const [x, y] = named;
  if (x && y && x.families[0] === y.families[0]) {
    return { rejection: { reason: "InvalidAnnotation", message: `${ANNOTATIONS.pool}: "${text}" must name one pool per IP family (both are ${x.families[0]})` } };
  }
  const servesHere = (name: string | undefined): Pool | undefined => {
    const pool = name === undefined ? undefined : poolServing(name, svc.cluster, svc.namespace, policy);
    return pool && !("rejection" in pool) ? pool : undefined;
  };
  // Only a pool of one family serves a family: a claim searches its pool's whole index.
  const isOf = (family: IpFamily) => (p: Pool | undefined) => p?.families.length === 1 && p.families[0] === family;
  const out = new Map<IpFamily, Pool>();
  for (const family of families) {
    const pool =
      named.find(isOf(family)) ??
      (named.length === 0 ? [servesHere(policy.defaultPool)].find(isOf(family)) : undefined) ??
      (named.length < 2 ? servesHere(policy.familyPools[family]) : undefined);
    if (pool) out.set(family, pool);
  }
  return out;
}

type Pin = { ip: string; source: string };

/**
 * Dual-stack pins: `sharedlb.io/ip` may name one address per family (`203.0.113.10,2001:db8::10`);
 * `spec.loadBalancerIP` pins its own family. Two pins of one family that differ are refused.
 */
function pinsByFamily(annotation: string | undefined, loadBalancerIP: string | undefined): Map<IpFamily, Pin> | { rejection: Rejection } {
  const texts = (annotation ?? "").split(",").map((t) => t.trim()).filter((t) => t !== "");
  const out = new Map<IpFamily, Pin>();
  for (const text of texts) {
    const pin = pinnedIp(text, undefined);
    if (!pin) continue;
    if ("rejection" in pin) return pin;
    const family = familyOfIp(pin.ip);
    if (out.has(family)) return { rejection: { reason: "InvalidAnnotation", message: `${ANNOTATIONS.ip}: names two ${family} addresses; name at most one per family` } };
    out.set(family, pin);
  }
  const spec = pinnedIp(undefined, loadBalancerIP);
  if (spec && "rejection" in spec) return spec;
  if (spec) {
    const family = familyOfIp(spec.ip);
    const both = pinnedIp(out.get(family)?.ip, spec.ip);
    if (both && "rejection" in both) return both;
    out.set(family, out.get(family) ?? spec);
  }
  return out;
}

/** The pool's own IP list (its claim index is written from it), or the pinned address of the family. */
function familyCandidates(pool: Pool, pin: Pin | undefined): Candidates {
  if (!pin) return { ips: pool.ips, pinned: false };
  if (!pool.ipSet.has(pin.ip)) return { rejection: { reason: "IPNotInPool", message: `${pin.source}: ${pin.ip} is not in pool "${pool.name}"` } };
  return { ips: [pin.ip], pinned: true };
}
