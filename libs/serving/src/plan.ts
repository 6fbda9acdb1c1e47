import { type Allocation, ANNOTATIONS, type EndpointsResource, type ServiceResource } from "@sharedlb/contracts";
import { InvalidCidrError, parseCidr } from "./ip.js";
import { clusterName, grpcTargetName, type L4Protocol, listenerName } from "./naming.js";
import { type HealthSignalKind, markProbed, type NodeEndpoint, type ProbeVerdicts, selectEndpoints } from "./node-selection.js";

export type ProxyProtocolVersion = "v1" | "v2";

/** One Listener of a port, on one of the Service's addresses. */
export interface ListenerPlan {
  readonly ip: string;
  readonly name: string;
}

export interface PortPlan {
  readonly protocol: L4Protocol;
  readonly portName: string;
  readonly servicePort: number;
  readonly externalPort: number;
  /** 0 when the Service has no NodePort (allocateLoadBalancerNodePorts: false). */
  readonly nodePort: number;
  /** The listener on the Service's first address. */
  readonly listenerName: string;
  /** One per address (dual-stack: one per IP family, in the Service's order), all to the same cluster. */
  readonly listeners: readonly ListenerPlan[];
  readonly clusterName: string;
  /** PROXY protocol towards the tenant nodes; TCP only. */
  readonly proxyProtocol: ProxyProtocolVersion | undefined;
  /** Set when the port is also served to proxyless gRPC clients (API listener + route). */
  readonly grpcTarget: string | undefined;
  /** spec.loadBalancerSourceRanges: the only client sources the listener accepts; empty: any. TCP only. */
  readonly sourceRanges: readonly SourceRange[];
  /** spec.sessionAffinity: ClientIP: a client's connections (datagrams) go to one node, by source IP. */
  readonly clientIpAffinity: boolean;
  /** undefined: not health checked (UDP with TCP-connect checks, which would prove nothing). */
  readonly healthCheck: HealthCheckPlan | undefined;
}

/**
 * How Envoy checks a node for a port: a TCP connect to the NodePort, or kube-proxy's own
 * signal over HTTP (`/healthz` on the Service's healthCheckNodePort for Local, which fails
 * on nodes without a local endpoint, else kube-proxy's :10256, which fails while a node is
 * drained or deleted), so connections drain the way cloud load balancers drain them.
 */
export type HealthCheckPlan = { readonly kind: "tcp" } | { readonly kind: "http"; readonly port: number; readonly path: string };

/** Which health checks a pool's Services get (fleet file `healthChecks`). */
export type HealthCheckMode = "tcp" | "kubeProxy";

/** kube-proxy's health server (--healthz-bind-address), answering 503 while the node is going away. */
export const KUBE_PROXY_HEALTHZ_PORT = 10256;

/** How one pool's Services are health checked. */
export interface HealthCheckSettings {
  readonly mode: HealthCheckMode;
  /** Where kube-proxy's health server listens on the tenant nodes (kubeProxy mode, Cluster Services). */
  readonly kubeProxyPort: number;
}

export const TCP_HEALTH_CHECKS: HealthCheckSettings = { mode: "tcp", kubeProxyPort: KUBE_PROXY_HEALTHZ_PORT };

/** The health check settings of every pool (resolveHealthChecks); pools it does not name get the default. */
export class PoolHealthChecks {
  static readonly TCP = new PoolHealthChecks(TCP_HEALTH_CHECKS, new Map());

  constructor(
    readonly fallback: HealthCheckSettings,
    private readonly byPool: ReadonlyMap<string, HealthCheckSettings>,
  ) {}

  forPool(pool: string): HealthCheckSettings {
    return this.byPool.get(pool) ?? this.fallback;
  }

  /** Whether any pool follows kube-proxy's signals (and the gateway's own probes are needed). */
  get anyKubeProxy(): boolean {
    return this.fallback.mode === "kubeProxy" || [...this.byPool.values()].some((s) => s.mode === "kubeProxy");
  }
}

/**
 * The port of a node's kube-proxy signal for a Service: its healthCheckNodePort for Local
 * (failing on nodes without a local endpoint), else kube-proxy's own health port (failing
 * while the node is drained or deleted).
 */
export function healthSignalPort(
  service: Pick<ServiceResource, "externalTrafficPolicy" | "healthCheckNodePort">,
  settings: HealthCheckSettings,
): { readonly port: number; readonly kind: HealthSignalKind } {
  if (service.externalTrafficPolicy === "Local" && service.healthCheckNodePort > 0) {
    return { port: service.healthCheckNodePort, kind: "healthCheckNodePort" };
  }
  return { port: settings.kubeProxyPort, kind: "kubeProxy" };
}

/** A CIDR as Envoy's CidrRange wants it. */
export interface SourceRange {
  readonly addressPrefix: string;
  readonly prefixLen: number;
}

/** Everything the Envoy resources of one Service are built from; plain data. */
export interface ServicePlan {
  readonly key: string;
  readonly pool: string;
  /** The first address; `ips` has every address (one per IP family for a dual-stack Service). */
  readonly ip: string;
  readonly ips: readonly string[];
  readonly ports: readonly PortPlan[];
  readonly endpoints: readonly NodeEndpoint[];
  /** Things the tenant asked for that are not served, for logs. */
  readonly warnings: readonly string[];
}

const GRPC_APP_PROTOCOLS = new Set(["grpc", "kubernetes.io/h2c"]);

export interface PlanInputs {
  readonly key: string;
  readonly service: ServiceResource | undefined;
  readonly allocation: Allocation | undefined;
  /** The tenant cluster's nodes that can take traffic (see classifyNodes). */
  readonly ready: readonly NodeEndpoint[];
  readonly endpoints: EndpointsResource | undefined;
  /** The settings of the allocation's pool; default TCP connect. */
  readonly healthChecks?: HealthCheckSettings;
  /** The gateway's own probes of the nodes' health signals (kubeProxy mode only); absent: none failing. */
  readonly probeVerdicts?: ProbeVerdicts;
}

/**
 * What to serve for one Service, or undefined when nothing should be served: no
 * allocation, not Allocated (Pending, Failed, Released), deleted (tombstone), or an
 * allocation made for another incarnation of the Service (uid differs: the allocator has
 * not caught up with a delete and re-create yet, and mixing the two would send traffic to
 * the old NodePorts).
 */
export function planService(inputs: PlanInputs): ServicePlan | undefined {
  const { service, allocation } = inputs;
  if (!service || !allocation) return undefined;
  if (allocation.state !== "Allocated" || allocation.ip === "" || allocation.uid !== service.uid) return undefined;
  const warnings: string[] = [];
  const ips = [allocation.ip, ...(allocation.ips ?? []).filter((ip) => ip !== allocation.ip)];
  const proxyProtocol = parseProxyProtocol(service.annotations[ANNOTATIONS.proxyProtocol], warnings);
  const sourceRanges = parseSourceRanges(service.loadBalancerSourceRanges ?? [], warnings);
  const clientIpAffinity = service.sessionAffinity === "ClientIP";
  const settings = inputs.healthChecks ?? TCP_HEALTH_CHECKS;
  const signalPort = healthSignalPort(service, settings).port;
  const kubeProxyCheck: HealthCheckPlan = { kind: "http", port: signalPort, path: "/healthz" };
  const ports: PortPlan[] = [];
  for (const p of allocation.ports) {
    if (p.protocol !== "TCP" && p.protocol !== "UDP") {
      warnings.push(`port ${p.port}/${p.protocol}: Envoy has no ${p.protocol} proxy, not served`);
      continue;
    }
    // Fail closed: a restriction that cannot be enforced must not become "any source".
    if (sourceRanges === undefined) {
      warnings.push(`port ${p.port}/${p.protocol}: loadBalancerSourceRanges could not be read, not served`);
      continue;
    }
    if (sourceRanges.length > 0 && p.protocol === "UDP") {
      warnings.push(`port ${p.port}/UDP: loadBalancerSourceRanges cannot be enforced for UDP by this gateway, not served`);
      continue;
    }
    const protocol: L4Protocol = p.protocol;
    const spec = service.ports.find((sp) => sp.protocol === p.protocol && sp.port === p.port);
    const wantsGrpc = p.protocol === "TCP" && GRPC_APP_PROTOCOLS.has((spec?.appProtocol ?? "").toLowerCase());
    let portProxy: ProxyProtocolVersion | undefined;
    if (proxyProtocol && p.protocol === "TCP") portProxy = proxyProtocol;
    else if (proxyProtocol) warnings.push(`port ${p.port}/UDP: PROXY protocol applies to TCP only`);
    let grpcTarget: string | undefined;
    if (wantsGrpc && portProxy) {
      warnings.push(
        `port ${p.port}/TCP: appProtocol ${spec?.appProtocol} is not served to proxyless gRPC clients because the backend expects a PROXY header they cannot send`,
      );
    } else if (wantsGrpc) {
      grpcTarget = grpcTargetName(allocation.cluster, allocation.namespace, allocation.name, p.name, p.port);
    }
    ports.push({
      protocol: p.protocol,
      portName: p.name,
      servicePort: p.port,
      externalPort: p.externalPort,
      nodePort: p.nodePort,
      listenerName: listenerName(p.protocol, allocation.ip, p.externalPort),
      listeners: ips.map((ip) => ({ ip, name: listenerName(protocol, ip, p.externalPort) })),
      clusterName: clusterName(allocation.cluster, allocation.namespace, allocation.name, p.protocol, p.port),
      proxyProtocol: portProxy,
      grpcTarget,
      sourceRanges,
      clientIpAffinity,
      healthCheck: settings.mode === "kubeProxy" ? kubeProxyCheck : p.protocol === "TCP" ? { kind: "tcp" } : undefined,
    });
  }
  return {
    key: inputs.key,
    pool: allocation.pool,
    ip: allocation.ip,
    ips,
    ports,
    endpoints:
      settings.mode === "kubeProxy" && inputs.probeVerdicts
        ? markProbed(allocation.cluster, selectEndpoints(service, inputs.ready, inputs.endpoints), signalPort, inputs.probeVerdicts)
        : selectEndpoints(service, inputs.ready, inputs.endpoints),
    warnings,
  };
}

/** The Service's source ranges, or undefined when one of them is not a CIDR (validated upstream, so a bug). */
function parseSourceRanges(texts: readonly string[], warnings: string[]): SourceRange[] | undefined {
  const ranges: SourceRange[] = [];
  for (const text of texts) {
    try {
      const cidr = parseCidr(text.trim());
      ranges.push({ addressPrefix: cidr.text.split("/")[0] ?? "", prefixLen: cidr.prefix });
    } catch (err) {
      if (!(err instanceof InvalidCidrError)) throw err;
      warnings.push(`loadBalancerSourceRanges: ${err.message}`);
      return undefined;
    }
  }
  return ranges;
}

function parseProxyProtocol(value: string | undefined, warnings: string[]): ProxyProtocolVersion | undefined {
  if (value === undefined || value === "") return undefined;
  const v = value.trim().toLowerCase();
  if (v === "v1" || v === "v2") return v;
  warnings.push(`${ANNOTATIONS.proxyProtocol}: "${value}" is not v1 or v2, PROXY protocol not enabled`);
  return undefined;
}
