import {
  decodeAnyAllocationMessage,
  type GatewayListener,
  type GatewayResource,
  type L7Allocation,
  makeEvent,
  parseResourceSubject,
  type ResourceMessage,
  type RouteResource,
  STREAM_NAMES,
  subjects,
} from "@sharedlb/contracts";
import { publishEvent, readLastValues } from "@sharedlb/runtime";
import { type NatsFixture, waitFor } from "@sharedlb/testing";

// Gateways and Ingresses as the watcher publishes them, and their L7 allocations as the
// allocator publishes them (keys: cluster/namespace/name/kind).

const SOURCE = "sharedlb/watcher/test";

export function listener(name: string, protocol: GatewayListener["protocol"], port: number, hostname?: string): GatewayListener {
  return { name, protocol, port, ...(hostname ? { hostname } : {}), allowedRoutes: { allNamespaces: true, namespaces: [], kinds: ["HTTPRoute"] } };
}

export function gateway(cluster: string, namespace: string, name: string, listeners: GatewayListener[], over: Partial<GatewayResource> = {}): GatewayResource {
  return { cluster, namespace, name, uid: `${cluster}-${namespace}-${name}`, generation: 1, gatewayClassName: "sharedlb", listeners, annotations: {}, refusedRefs: [], ...over };
}

/** HTTP :80 and HTTPS :443 for one hostname (or for every hostname without one). */
export const webGateway = (cluster: string, namespace: string, name: string, hostname?: string, over: Partial<GatewayResource> = {}): GatewayResource =>
  gateway(cluster, namespace, name, [listener("http", "HTTP", 80, hostname), listener("https", "HTTPS", 443, hostname)], over);

export function ingress(cluster: string, namespace: string, name: string, hosts: string[], over: Partial<RouteResource> = {}): RouteResource {
  return {
    cluster,
    namespace,
    name,
    uid: `${cluster}-${namespace}-${name}`,
    generation: 1,
    sourceKind: "Ingress",
    parentRefs: [],
    hostnames: hosts,
    rules: hosts.map((h) => ({ hostnames: [h], matches: [{ path: { type: "PathPrefix" as const, value: "/" } }], filters: [], backends: [] })),
    tls: [{ hosts, secret: { namespace, name: `${name}-tls` } }],
    refusedRefs: [],
    annotations: {},
    ...over,
  };
}

/** A Gateway's event as the allocator's pipeline hands it over (decoded), for tests that drive the allocator directly. */
export const gatewayMessage = (gw: GatewayResource): ResourceMessage => ({
  subject: parseResourceSubject(subjects.l7Resource(gw.cluster, "gateway", gw.namespace, gw.name)),
  event: makeEvent({ type: "io.sharedlb.gateway.v1", source: SOURCE, subject: `${gw.cluster}/${gw.namespace}/${gw.name}`, data: gw }),
});

export const gatewayTombstoneMessage = (gw: GatewayResource, uid: string): ResourceMessage => ({
  subject: parseResourceSubject(subjects.l7Resource(gw.cluster, "gateway", gw.namespace, gw.name)),
  event: makeEvent({
    type: "io.sharedlb.deleted.v1",
    source: SOURCE,
    subject: `${gw.cluster}/${gw.namespace}/${gw.name}`,
    data: { cluster: gw.cluster, kind: "gateway", namespace: gw.namespace, name: gw.name, uid },
  }),
});

export async function publishGateway(fx: NatsFixture, gw: GatewayResource, id?: string): Promise<number> {
  const ev = makeEvent({ type: "io.sharedlb.gateway.v1", source: SOURCE, subject: `${gw.cluster}/${gw.namespace}/${gw.name}`, data: gw, ...(id ? { id } : {}) });
  return (await publishEvent(fx.js, subjects.l7Resource(gw.cluster, "gateway", gw.namespace, gw.name), ev)).seq;
}

export async function publishRoute(fx: NatsFixture, rt: RouteResource, id?: string): Promise<number> {
  const kind = ({ Ingress: "ingress", HTTPRoute: "httproute", GRPCRoute: "grpcroute", TLSRoute: "tlsroute" } as const)[rt.sourceKind];
  const ev = makeEvent({ type: "io.sharedlb.route.v1", source: SOURCE, subject: `${rt.cluster}/${rt.namespace}/${rt.name}`, data: rt, ...(id ? { id } : {}) });
  return (await publishEvent(fx.js, subjects.l7Resource(rt.cluster, kind, rt.namespace, rt.name), ev)).seq;
}

export async function publishL7Tombstone(fx: NatsFixture, kind: "gateway" | "ingress", cluster: string, namespace: string, name: string, uid: string, id?: string): Promise<number> {
  const ev = makeEvent({ type: "io.sharedlb.deleted.v1", source: SOURCE, subject: `${cluster}/${namespace}/${name}`, data: { cluster, kind, namespace, name, uid }, ...(id ? { id } : {}) });
  return (await publishEvent(fx.js, subjects.l7Resource(cluster, kind, namespace, name), ev)).seq;
}

/** The last L7 allocation per object (`cluster/namespace/name/kind`), replayed from LB_ALLOCATIONS. */
export function l7Allocations(fx: NatsFixture): Promise<Map<string, L7Allocation>> {
  return readLastValues(fx.js, fx.jsm, STREAM_NAMES.allocations, (subject, data) => {
    const m = decodeAnyAllocationMessage(subject, data);
    if (m.kind === "service") return undefined;
    const a = m.event.data;
    return [`${a.cluster}/${a.namespace}/${a.name}/${a.kind}`, a];
  });
}

export async function waitForL7(fx: NatsFixture, key: string, ok: (a: L7Allocation) => boolean, timeoutMs = 15_000): Promise<L7Allocation> {
  let last: L7Allocation | undefined;
  return waitFor(
    `L7 allocation of ${key}`,
    async () => {
      last = (await l7Allocations(fx)).get(key);
      return last && ok(last) ? last : undefined;
    },
    timeoutMs,
    50,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${JSON.stringify(last)}`);
  });
}

/** Every hostname claim published, as `ip:port hostname → object` (exclusive claims as `*all*`). */
export function claimsOf(all: ReadonlyMap<string, L7Allocation>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, a] of all) {
    if (a.state === "Released") continue;
    for (const l of a.listeners) {
      if (l.state !== "Allocated") continue;
      for (const h of l.shared ? l.claimedHostnames : ["*all*"]) {
        const k = `${l.ip}:${l.port} ${h}`;
        out.set(k, [...(out.get(k) ?? []), key]);
      }
    }
  }
  return out;
}

/**
 * What the slot table itself says about a pool's L7 claims, checked against its own
 * invariants: every claimed (IP, port) is marked L7 in `own:` with its claim count right,
 * and no two tenant clusters hold overlapping hostnames (or one of them every hostname)
 * on one (IP, port). Returns the problems found, and the claims as `ip:port hostname → clusters`.
 */
export async function l7TableProblems(redis: { hgetall(key: string): Promise<Record<string, string>> }, prefix: string, pool: string): Promise<{ problems: string[]; claims: Map<string, string[]> }> {
  const { hostnamesConflict } = await import("../domain/hostnames.js");
  const [claimsRaw, counts, own] = await Promise.all([redis.hgetall(`${prefix}l7c:${pool}`), redis.hgetall(`${prefix}l7n:${pool}`), redis.hgetall(`${prefix}own:${pool}`)]);
  const problems: string[] = [];
  const bySlot = new Map<string, { cluster: string; hostname: string }[]>();
  const claims = new Map<string, string[]>();
  for (const [f, v] of Object.entries(claimsRaw)) {
    const [ip = "", port = "", , hostname = ""] = f.split("|");
    const cluster = v.replace(/^~/, "");
    bySlot.set(`${ip}|${port}`, [...(bySlot.get(`${ip}|${port}`) ?? []), { cluster, hostname }]);
    const k = `${ip}:${port} ${hostname || "*all*"}`;
    claims.set(k, [...new Set([...(claims.get(k) ?? []), cluster])]);
  }
  for (const [slot, hs] of bySlot) {
    const [ip = "", port = ""] = slot.split("|");
    if (!own[`${ip}|TCP|${port}`]?.startsWith("@l7:")) problems.push(`${slot}: claimed but own: is ${own[`${ip}|TCP|${port}`]}`);
    if (Number(counts[slot]) !== hs.length) problems.push(`${slot}: ${hs.length} claims, count ${counts[slot]}`);
    for (const x of hs) for (const y of hs) {
      if (x.cluster < y.cluster && (x.hostname === "" || y.hostname === "" || hostnamesConflict(x.hostname, y.hostname))) {
        problems.push(`${slot}: ${x.cluster} holds ${x.hostname || "*all*"} and ${y.cluster} holds ${y.hostname || "*all*"}`);
      }
    }
  }
  for (const [slot, v] of Object.entries(own)) {
    const [ip = "", , port = ""] = slot.split("|");
    if (v.startsWith("@l7:") && !bySlot.has(`${ip}|${port}`)) problems.push(`${slot}: marked L7 without a claim`);
  }
  return { problems, claims };
}
