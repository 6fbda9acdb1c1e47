import type { KeyObject } from "node:crypto";
import {
  type GatewayListener,
  type GatewayResource,
  type L7Allocation,
  type ListenerAllocation,
  type RouteBackend,
  type RouteResource,
  type RouteRule,
  sealedKeyContext,
  sealPrivateKey,
  type SecretResource,
} from "@sharedlb/contracts";

// Contract L7 messages as the watcher and the allocator publish them, for gateway tests.

const ANY_ROUTES = { allNamespaces: true, namespaces: [], kinds: [] };

/** The identity every tenant object carries; its uid follows from its name, as in @sharedlb/testing. */
function identity(cluster: string, namespace: string, name: string) {
  return { cluster, namespace, name, uid: `uid-${cluster}-${namespace}-${name}` };
}

export function httpListener(name: string, port: number, hostname: string): GatewayListener {
  return { name, protocol: "HTTP", port, hostname, allowedRoutes: ANY_ROUTES };
}

export function httpsListener(
  name: string,
  port: number,
  hostname: string,
  secrets: { namespace: string; name: string }[],
): GatewayListener {
  return { name, protocol: "HTTPS", port, hostname, tls: { mode: "Terminate", certificateRefs: secrets }, allowedRoutes: ANY_ROUTES };
}

export function gateway(
  cluster: string,
  namespace: string,
  name: string,
  generation: number,
  listeners: GatewayListener[],
): GatewayResource {
  return {
    ...identity(cluster, namespace, name),
    generation,
    gatewayClassName: "sharedlb",
    listeners,
    annotations: {},
    refusedRefs: [],
  };
}

export function backend(namespace: string, service: string, port: number, nodePort: number, weight = 1): RouteBackend {
  return { namespace, service, port, weight, nodePort };
}

export function route(
  sourceKind: RouteResource["sourceKind"],
  cluster: string,
  namespace: string,
  name: string,
  generation: number,
  over: Partial<Pick<RouteResource, "parentRefs" | "hostnames" | "rules" | "tls">>,
): RouteResource {
  return {
    ...identity(cluster, namespace, name),
    generation,
    sourceKind,
    parentRefs: [],
    hostnames: [],
    rules: [],
    refusedRefs: [],
    annotations: {},
    ...over,
  };
}

export function prefixRule(path: string, backends: RouteBackend[]): RouteRule {
  return { matches: [{ path: { type: "PathPrefix", value: path } }], filters: [], backends };
}

/** A kubernetes.io/tls Secret with its private key sealed to the gateways' public key, as the watcher publishes it. */
export function sealedSecret(
  cluster: string,
  namespace: string,
  name: string,
  certPem: string,
  keyPem: string,
  gatewayKey: KeyObject,
  dnsNames: string[],
): SecretResource {
  return {
    ...identity(cluster, namespace, name),
    certificateChainPem: certPem,
    notAfter: new Date(Date.now() + 24 * 3600_000).toISOString(),
    dnsNames,
    privateKey: sealPrivateKey(Buffer.from(keyPem), gatewayKey, sealedKeyContext(cluster, namespace, name)),
  };
}

export function allocatedListener(
  name: string,
  protocol: ListenerAllocation["protocol"],
  ip: string,
  port: number,
  claimedHostnames: string[],
): ListenerAllocation {
  return {
    name,
    protocol,
    state: "Allocated",
    pool: "public",
    ip,
    port,
    shared: true,
    claimedHostnames,
    refusedHostnames: [],
    reason: "",
    message: "",
  };
}

export function l7Allocation(
  owner: GatewayResource | RouteResource,
  kind: "gateway" | "ingress",
  listeners: ListenerAllocation[],
  resourceSequence = 1,
): L7Allocation {
  return {
    cluster: owner.cluster,
    namespace: owner.namespace,
    name: owner.name,
    kind,
    uid: owner.uid,
    generation: owner.generation,
    state: "Allocated",
    listeners,
    reason: "",
    message: "",
    resourceSequence,
  };
}
