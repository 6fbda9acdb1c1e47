import type { V1EndpointSlice } from "@kubernetes/client-node";
import type { EndpointsResource, ServiceResource } from "@sharedlb/contracts";

export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/**
 * For a `Local` Service: the nodes that hold at least one ready endpoint, sorted. An
 * endpoint whose `ready` is unset counts as ready (EndpointSlice API semantics).
 */
export function normalizeEndpoints(service: ServiceResource, slices: readonly V1EndpointSlice[]): EndpointsResource | undefined {
  if (service.externalTrafficPolicy !== "Local") return undefined;
  const nodes = new Set<string>();
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      if (ep.nodeName && ep.conditions?.ready !== false) nodes.add(ep.nodeName);
    }
  }
  return { cluster: service.cluster, namespace: service.namespace, name: service.name, readyNodes: [...nodes].sort() };
}
