import type { V1Node } from "@kubernetes/client-node";
import type { NodeResource } from "@sharedlb/contracts";

export const EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers";

export function normalizeNode(cluster: string, node: V1Node): NodeResource {
  const addresses = node.status?.addresses ?? [];
  const first = (type: string) => addresses.find((a) => a.type === type)?.address ?? "";
  const ready = (node.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
  return {
    cluster,
    name: node.metadata?.name ?? "",
    addresses: { internal: first("InternalIP"), external: first("ExternalIP") },
    ready,
    // Kubernetes treats the label's presence as the opt-out, whatever its value.
    excluded: node.metadata?.labels?.[EXCLUDE_LABEL] !== undefined,
  };
}
