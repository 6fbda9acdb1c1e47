import { isIP } from "node:net";
import type { EndpointsResource, NodeResource, ServiceResource } from "@sharedlb/contracts";

export interface ServingNode {
  node: string;
  address: string;
}

export interface IdleNode {
  node: string;
  why: string;
}

export interface NodeSelection {
  serving: ServingNode[];
  notServing: IdleNode[];
}

/**
 * Which tenant nodes receive a Service's traffic at its NodePorts, and why the others do
 * not. The rules and their order are the xds-gateway's (libs/serving/src/plan.ts:
 * readyEndpoints, then selectEndpoints): ready, not excluded from external load
 * balancers, the internal IP else the external one, one node per address (the first
 * name wins); then for `externalTrafficPolicy: Local` only nodes the EndpointSlices name
 * as having a ready endpoint. The gateway does not say why a node is left out, so this is
 * a second implementation; nodes.test.ts runs both on the same inputs.
 */
export function selectNodes(
  service: Pick<ServiceResource, "externalTrafficPolicy">,
  nodes: Iterable<NodeResource>,
  endpoints: EndpointsResource | undefined,
): NodeSelection {
  const byAddress = new Map<string, ServingNode>();
  const notServing: IdleNode[] = [];
  for (const node of [...nodes].sort((a, b) => compare(a.name, b.name))) {
    if (!node.ready) {
      notServing.push({ node: node.name, why: "not ready" });
      continue;
    }
    if (node.excluded) {
      notServing.push({
        node: node.name,
        why: "excluded from external load balancers (node.kubernetes.io/exclude-from-external-load-balancers)",
      });
      continue;
    }
    const address = [node.addresses.internal, node.addresses.external].find((a) => a !== "" && isIP(a) !== 0);
    if (!address) {
      notServing.push({ node: node.name, why: "no usable IP address" });
      continue;
    }
    const seen = byAddress.get(address);
    if (seen) {
      notServing.push({ node: node.name, why: `same address ${address} as ${seen.node}` });
      continue;
    }
    byAddress.set(address, { node: node.name, address });
  }
  let serving = [...byAddress.values()];
  if (service.externalTrafficPolicy === "Local") {
    const readyNodes = new Set(endpoints?.readyNodes ?? []);
    for (const n of serving.filter((x) => !readyNodes.has(x.node))) {
      notServing.push({
        node: n.node,
        why: endpoints
          ? "no ready endpoint of the Service (externalTrafficPolicy: Local)"
          : "no EndpointSlice seen yet (externalTrafficPolicy: Local)",
      });
    }
    serving = serving.filter((x) => readyNodes.has(x.node));
  }
  notServing.sort((a, b) => compare(a.node, b.node));
  return { serving: serving.sort((a, b) => compare(a.address, b.address)), notServing };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
