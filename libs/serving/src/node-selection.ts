import { isIP } from "node:net";
import type { EndpointsResource, NodeResource, ServiceResource } from "@sharedlb/contracts";
import { type AddressRefusalReason, NodeAddressPolicy } from "./address-policy.js";

/** A tenant node that receives traffic for a Service, at the Service's NodePorts. */
export interface NodeEndpoint {
  readonly node: string;
  readonly address: string;
  /**
   * Set when the gateway's own probe of the node's health signal for this Service fails
   * (why, for people): served with health_status UNHEALTHY, so Envoys and proxyless gRPC
   * clients stop sending new traffic there.
   */
  readonly unhealthy?: string;
}

/** Which kube-proxy signal a probe reads: kube-proxy's own health port, or a Local Service's healthCheckNodePort. */
export type HealthSignalKind = "kubeProxy" | "healthCheckNodePort";

/** A node's health signal the gateway's probes found failing. */
export interface FailedProbe {
  readonly cluster: string;
  readonly node: string;
  /** One sentence for people, e.g. "HTTP 503 from 127.0.0.2:10256/healthz". */
  readonly message: string;
}

/** The failing health signals, by probeTargetKey: pure input to planning, from the gateway's probes. */
export type ProbeVerdicts = ReadonlyMap<string, FailedProbe>;

/** One health signal to probe: `GET http://<address>:<port>/healthz` of a node. */
export interface ProbeTarget {
  readonly key: string;
  readonly cluster: string;
  readonly node: string;
  readonly address: string;
  readonly port: number;
  readonly kind: HealthSignalKind;
}

/** The identity of a health signal: tenant clusters may reuse each other's private addresses. */
export function probeTargetKey(cluster: string, address: string, port: number): string {
  return `${cluster} ${address} ${port}`;
}

/** The endpoints with those whose health signal on `port` fails marked unhealthy. */
export function markProbed(
  cluster: string,
  endpoints: readonly NodeEndpoint[],
  port: number,
  verdicts: ProbeVerdicts,
): readonly NodeEndpoint[] {
  if (verdicts.size === 0) return endpoints;
  return endpoints.map((e) => {
    const failed = verdicts.get(probeTargetKey(cluster, e.address, port));
    return failed ? { ...e, unhealthy: failed.message } : e;
  });
}

/** Why a node does not serve; stable, for `sharedlb explain --json` and metrics. */
export type NodeExclusionReason = "AddressRefused" | "NotReady" | "Excluded" | "NoAddress" | "DuplicateAddress" | "NoLocalEndpoints";

export interface UnservedNode {
  readonly node: string;
  readonly reason: NodeExclusionReason;
  /** One sentence for people. */
  readonly message: string;
  /** Set when reason is AddressRefused. */
  readonly refusal?: AddressRefusalReason;
  /** The refused address, set when reason is AddressRefused. */
  readonly address?: string;
}

/** A tenant cluster's nodes, split into those that can take traffic and those that cannot. */
export interface ClusterNodes {
  /** Sorted by address, one per address, so every replica builds the same bytes. */
  readonly ready: readonly NodeEndpoint[];
  /** Sorted by node name. */
  readonly unserved: readonly UnservedNode[];
}

export interface NodeSelection {
  readonly serving: readonly NodeEndpoint[];
  readonly notServing: readonly UnservedNode[];
}

/**
 * The nodes of one tenant cluster that can take traffic: address not refused by the
 * policy, ready, not excluded from external load balancers, with a usable IP (internal,
 * else external), one per address (two nodes reporting one IP would be one endpoint
 * twice, which gRPC clients reject; the first name wins). The same for every Service of
 * the cluster, so the view computes it once per node change.
 */
export function classifyNodes(nodes: Iterable<NodeResource>, policy: NodeAddressPolicy = NodeAddressPolicy.BUILT_IN): ClusterNodes {
  const byAddress = new Map<string, NodeEndpoint>();
  const unserved: UnservedNode[] = [];
  for (const node of [...nodes].sort((a, b) => compare(a.name, b.name))) {
    const address = nodeAddress(node);
    const refusal = address === undefined ? undefined : policy.check(node.cluster, address);
    if (refusal) {
      unserved.push({ node: node.name, reason: "AddressRefused", message: refusal.message, refusal: refusal.reason, address });
    } else if (!node.ready) {
      unserved.push({ node: node.name, reason: "NotReady", message: "not ready" });
    } else if (node.excluded) {
      unserved.push({
        node: node.name,
        reason: "Excluded",
        message: "excluded from external load balancers (node.kubernetes.io/exclude-from-external-load-balancers)",
      });
    } else if (address === undefined) {
      unserved.push({ node: node.name, reason: "NoAddress", message: "no usable IP address" });
    } else {
      const seen = byAddress.get(address);
      if (seen) unserved.push({ node: node.name, reason: "DuplicateAddress", message: `same address ${address} as ${seen.node}` });
      else byAddress.set(address, { node: node.name, address });
    }
  }
  return { ready: [...byAddress.values()].sort((a, b) => compare(a.address, b.address)), unserved };
}

/** The endpoints of classifyNodes alone. */
export function readyEndpoints(nodes: Iterable<NodeResource>, policy?: NodeAddressPolicy): NodeEndpoint[] {
  return [...classifyNodes(nodes, policy).ready];
}

/** For `Local` Services only the nodes EndpointSlices name as having a ready endpoint (none without one). */
export function selectEndpoints(
  service: Pick<ServiceResource, "externalTrafficPolicy">,
  ready: readonly NodeEndpoint[],
  endpoints: EndpointsResource | undefined,
): readonly NodeEndpoint[] {
  if (service.externalTrafficPolicy !== "Local") return ready;
  const readyNodes = new Set(endpoints?.readyNodes ?? []);
  return ready.filter((e) => readyNodes.has(e.node));
}

/** Which nodes serve one Service and why each other node does not. */
export function selectNodes(
  service: Pick<ServiceResource, "externalTrafficPolicy">,
  nodes: ClusterNodes,
  endpoints: EndpointsResource | undefined,
): NodeSelection {
  const serving = selectEndpoints(service, nodes.ready, endpoints);
  if (serving.length === nodes.ready.length) return { serving, notServing: nodes.unserved };
  const kept = new Set(serving.map((e) => e.node));
  const message = endpoints
    ? "no ready endpoint of the Service (externalTrafficPolicy: Local)"
    : "no EndpointSlice seen yet (externalTrafficPolicy: Local)";
  const local: UnservedNode[] = nodes.ready
    .filter((e) => !kept.has(e.node))
    .map((e) => ({ node: e.node, reason: "NoLocalEndpoints", message }));
  return { serving, notServing: [...nodes.unserved, ...local].sort((a, b) => compare(a.node, b.node)) };
}

/** The internal IP is what the LB cluster reaches NodePorts on; the external one is a fallback. */
export function nodeAddress(node: NodeResource): string | undefined {
  for (const a of [node.addresses.internal, node.addresses.external]) {
    if (a !== "" && isIP(a) !== 0) return a;
  }
  return undefined;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
