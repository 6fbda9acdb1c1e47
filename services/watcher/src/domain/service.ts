import type { V1Service } from "@kubernetes/client-node";
import {
  ANNOTATION_PREFIX,
  ANNOTATIONS,
  type IpFamily,
  isCidr,
  type Protocol,
  type ServicePort,
  type ServiceResource,
} from "@sharedlb/contracts";
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
    ...specAdditions(spec),
  };
}

type ServiceSpec = NonNullable<V1Service["spec"]>;

/**
 * The optional v1 fields, as the Service spec has them (the apiserver fills in its
 * defaults); a field the spec lacks stays absent, which the contract reads as the default.
 */
function specAdditions(spec: ServiceSpec): Partial<ServiceResource> {
  const out: Partial<ServiceResource> = {};
  if (spec.loadBalancerSourceRanges && spec.loadBalancerSourceRanges.length > 0) {
    out.loadBalancerSourceRanges = spec.loadBalancerSourceRanges.map(canonicalCidr);
  }
  if (spec.sessionAffinity === "None" || spec.sessionAffinity === "ClientIP") out.sessionAffinity = spec.sessionAffinity;
  const families = (spec.ipFamilies ?? []).filter((f): f is IpFamily => f === "IPv4" || f === "IPv6");
  if (families.length > 0) out.ipFamilies = families;
  const policy = spec.ipFamilyPolicy;
  if (policy === "SingleStack" || policy === "PreferDualStack" || policy === "RequireDualStack") out.ipFamilyPolicy = policy;
  if (spec.loadBalancerIP) out.loadBalancerIP = spec.loadBalancerIP;
  return out;
}

/**
 * The apiserver accepts source ranges space-padded and with leading zeros in IPv4 octets
 * (Go's sloppy parser reads them as decimal); the contract wants a plain CIDR. Anything
 * else is passed on as it is, so it is refused visibly downstream: dropping a range would
 * silently open the Service to more sources.
 */
export function canonicalCidr(raw: string): string {
  const value = raw.trim();
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,3})$/.exec(value);
  const canonical = m ? `${m.slice(1, 5).map((o) => String(Number(o))).join(".")}/${Number(m[5])}` : value;
  return isCidr(canonical) ? canonical : value;
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
