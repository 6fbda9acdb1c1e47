import type { V1Service } from "@kubernetes/client-node";
import { ANNOTATION_PREFIX, ANNOTATIONS, type Protocol, type ServicePort, type ServiceResource } from "@sharedlb/contracts";
import { type ClassScope, inScope } from "@sharedlb/kube";

/**
 * The normalized state of a Service this watcher serves, or undefined when it is not ours
 * (not LoadBalancer, another class, or class-less without --default-class).
 */
export function normalizeService(cluster: string, svc: V1Service, scope: ClassScope): ServiceResource | undefined {
  if (!inScope(svc, scope)) return undefined;
  const spec = svc.spec ?? {};
  const local = spec.externalTrafficPolicy === "Local";
  return {
    cluster,
    namespace: svc.metadata?.namespace ?? "",
    name: svc.metadata?.name ?? "",
    uid: svc.metadata?.uid ?? "",
    ports: (spec.ports ?? []).map(normalizePort),
    externalTrafficPolicy: local ? "Local" : "Cluster",
    healthCheckNodePort: local ? (spec.healthCheckNodePort ?? 0) : 0,
    // Class-less Services served as the default implementation carry the class they are
    // served under, so consumers never see an empty class.
    loadBalancerClass: spec.loadBalancerClass || scope.loadBalancerClass,
    annotations: sharedlbAnnotations(svc.metadata?.annotations),
  };
}

function normalizePort(p: NonNullable<NonNullable<V1Service["spec"]>["ports"]>[number]): ServicePort {
  const out: ServicePort = {
    name: p.name ?? "",
    protocol: (p.protocol ?? "TCP") as Protocol,
    port: p.port,
    nodePort: p.nodePort ?? 0,
  };
  if (p.appProtocol) out.appProtocol = p.appProtocol;
  return out;
}

/**
 * Only the `sharedlb.io/*` requests. `allocated-ports` is left out: the status-reporter
 * writes it, and publishing it back would turn every status write into a resource change.
 */
export function sharedlbAnnotations(all: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(all ?? {}).sort()) {
    if (key.startsWith(ANNOTATION_PREFIX) && key !== ANNOTATIONS.allocatedPorts) out[key] = (all as Record<string, string>)[key] as string;
  }
  return out;
}
