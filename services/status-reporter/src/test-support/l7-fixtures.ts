import type {
  GatewayListener,
  GatewayResource,
  L7Allocation,
  ListenerAllocation,
  ParentReference,
  Programmed,
  RefusedRef,
  RouteResource,
} from "@sharedlb/contracts";

// Shapes the watcher, allocator and xds-gateway publish for L7 objects, with test defaults:
// unit tests of the status domain and the integration tests that play those services.

export function gatewayListener(name: string, over: Partial<GatewayListener> = {}): GatewayListener {
  return {
    name,
    protocol: "HTTP",
    port: 80,
    allowedRoutes: { allNamespaces: false, namespaces: [], kinds: ["HTTPRoute", "GRPCRoute"] },
    ...over,
  };
}

/** A tenant object's identity with test defaults: uid `uid-<name>`, generation 1. */
const identity = (cluster: string, namespace: string, name: string) => ({ cluster, namespace, name, uid: `uid-${name}`, generation: 1 });

export function gatewayResource(cluster: string, namespace: string, name: string, over: Partial<GatewayResource> = {}): GatewayResource {
  return {
    ...identity(cluster, namespace, name),
    gatewayClassName: "sharedlb",
    listeners: [gatewayListener("http", { hostname: "shop.example.com" })],
    annotations: {},
    refusedRefs: [],
    ...over,
  };
}

export function routeResource(
  cluster: string,
  namespace: string,
  name: string,
  parentRefs: ParentReference[],
  over: Partial<RouteResource> = {},
): RouteResource {
  return {
    ...identity(cluster, namespace, name),
    sourceKind: "HTTPRoute",
    parentRefs,
    hostnames: ["shop.example.com"],
    rules: [{ matches: [], filters: [], backends: [{ namespace, service: "web", port: 80, weight: 1, nodePort: 30080 }] }],
    refusedRefs: [],
    annotations: {},
    ...over,
  };
}

export function refusedRef(over: Partial<RefusedRef> & Pick<RefusedRef, "reason">): RefusedRef {
  return { field: "rules[0].backendRefs[0]", group: "", kind: "Service", namespace: "shop", name: "gone", message: "not found", ...over };
}

export function listenerAllocation(name: string, over: Partial<ListenerAllocation> = {}): ListenerAllocation {
  return {
    name,
    protocol: "HTTP",
    state: "Allocated",
    pool: "public",
    ip: "203.0.113.10",
    port: 80,
    shared: true,
    claimedHostnames: ["shop.example.com"],
    refusedHostnames: [],
    reason: "",
    message: "",
    ...over,
  };
}

/** A listener whose hostname another tenant holds on the shared (IP, port). */
export function conflictedListener(name: string, hostname: string): ListenerAllocation {
  return listenerAllocation(name, {
    state: "Pending",
    ip: "",
    claimedHostnames: [],
    refusedHostnames: [
      { hostname, reason: "HostnameConflict", message: `${hostname} is already claimed on 203.0.113.10:80 by another tenant` },
    ],
    reason: "HostnameConflict",
    message: `${hostname} is already claimed on 203.0.113.10:80 by another tenant`,
  });
}

export function l7Allocation(
  cluster: string,
  kind: L7Allocation["kind"],
  namespace: string,
  name: string,
  uid: string,
  listeners: ListenerAllocation[],
  over: Partial<L7Allocation> = {},
): L7Allocation {
  const states = listeners.map((l) => l.state);
  return {
    cluster,
    namespace,
    name,
    kind,
    uid,
    generation: 1,
    state: states.every((s) => s === "Allocated") && states.length > 0 ? "Allocated" : states.includes("Pending") ? "Pending" : "Failed",
    listeners,
    reason: "",
    message: "",
    resourceSequence: 1,
    ...over,
  };
}

export function programmed(
  cluster: string,
  kind: Programmed["kind"],
  namespace: string,
  name: string,
  generation: number,
  over: Partial<Programmed> = {},
): Programmed {
  return { cluster, namespace, name, kind, allocationVersion: generation, fleet: "edge", acked: 2, nacked: 0, pending: 0, ...over };
}

/** A Gateway as the tenant's API server returns it (JSON of the CRD), for the domain's readers. */
export function gatewayObject(namespace: string, name: string, over: { uid?: string; generation?: number; status?: unknown } = {}) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { namespace, name, uid: over.uid ?? `uid-${name}`, generation: over.generation ?? 1, resourceVersion: "10" },
    spec: {
      gatewayClassName: "sharedlb",
      listeners: [{ name: "http", protocol: "HTTP", port: 80, hostname: "shop.example.com" }],
    },
    status: over.status ?? {},
  };
}

export function httpRouteObject(
  namespace: string,
  name: string,
  parentRefs: Record<string, unknown>[],
  over: { uid?: string; generation?: number; status?: unknown } = {},
) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { namespace, name, uid: over.uid ?? `uid-${name}`, generation: over.generation ?? 1, resourceVersion: "20" },
    spec: { parentRefs, hostnames: ["shop.example.com"] },
    status: over.status ?? {},
  };
}
