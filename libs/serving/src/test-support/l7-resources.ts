// Contract-valid L7 tenant objects and allocations for unit tests (the golden inputs are JSON).
import type {
  GatewayListener,
  GatewayResource,
  L7Allocation,
  ListenerAllocation,
  RouteBackend,
  RouteResource,
  RouteRule,
  SecretResource,
} from "@sharedlb/contracts";

export const IP = "203.0.113.10";

export function httpListener(name: string, port: number, hostname?: string): GatewayListener {
  return {
    name,
    protocol: "HTTP",
    port,
    ...(hostname ? { hostname } : {}),
    allowedRoutes: { allNamespaces: true, namespaces: [], kinds: [] },
  };
}

export function gateway(cluster: string, namespace: string, name: string, listeners: GatewayListener[], generation = 1): GatewayResource {
  return {
    cluster,
    namespace,
    name,
    uid: `uid-${cluster}-${namespace}-${name}`,
    generation,
    gatewayClassName: "sharedlb",
    listeners,
    annotations: {},
    refusedRefs: [],
  };
}

export function backend(namespace: string, service: string, nodePort: number, weight = 1): RouteBackend {
  return { namespace, service, port: 80, weight, nodePort };
}

export function rule(path: string, backends: RouteBackend[]): RouteRule {
  return { matches: [{ path: { type: "PathPrefix", value: path } }], filters: [], backends };
}

export function httpRoute(
  cluster: string,
  namespace: string,
  name: string,
  parent: string,
  rules: RouteRule[],
  over: Partial<RouteResource> = {},
): RouteResource {
  return {
    cluster,
    namespace,
    name,
    uid: `uid-${cluster}-${namespace}-${name}`,
    generation: 1,
    sourceKind: "HTTPRoute",
    parentRefs: [{ namespace, name: parent }],
    hostnames: [],
    rules,
    refusedRefs: [],
    annotations: {},
    ...over,
  };
}

export function listenerAllocation(
  name: string,
  port: number,
  claimed: string[],
  over: Partial<ListenerAllocation> = {},
): ListenerAllocation {
  return {
    name,
    protocol: "HTTP",
    state: "Allocated",
    pool: "public",
    ip: IP,
    port,
    shared: true,
    claimedHostnames: claimed,
    refusedHostnames: [],
    reason: "",
    message: "",
    ...over,
  };
}

export function l7Allocation(
  cluster: string,
  namespace: string,
  name: string,
  listeners: ListenerAllocation[],
  over: Partial<L7Allocation> = {},
): L7Allocation {
  return {
    cluster,
    namespace,
    name,
    kind: "gateway",
    uid: `uid-${cluster}-${namespace}-${name}`,
    generation: 1,
    state: "Allocated",
    listeners,
    reason: "",
    message: "",
    resourceSequence: 1,
    ...over,
  };
}

export function tlsSecret(cluster: string, namespace: string, name: string): SecretResource {
  return {
    cluster,
    namespace,
    name,
    uid: `uid-${cluster}-${namespace}-${name}`,
    certificateChainPem: "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n",
    notAfter: "2030-01-01T00:00:00Z",
    dnsNames: [],
    privateKey: {
      alg: "X25519-HKDF-SHA256-A256GCM",
      keyId: "0123456789abcdef",
      epk: "A".repeat(43),
      nonce: "B".repeat(16),
      ciphertext: "C",
    },
  };
}
