/** Which Services a tenant-side sharedlb process serves. */
export interface ClassScope {
  /** spec.loadBalancerClass served, e.g. `sharedlb.io/envoy`. */
  loadBalancerClass: string;
  /** Also serve LoadBalancer Services that name no class (the cluster's default implementation). */
  defaultClass: boolean;
}

/** The part of a Service the scope depends on. */
export interface ScopedService {
  spec?: { type?: string; loadBalancerClass?: string | null };
}

/**
 * True when the Service is ours: type LoadBalancer, and our class, or no class when we
 * are the default implementation. A Service that names another class is never ours, even
 * with `defaultClass` (the class is immutable and belongs to that implementation).
 */
export function inScope(svc: ScopedService, scope: ClassScope): boolean {
  if (svc.spec?.type !== "LoadBalancer") return false;
  const cls = svc.spec.loadBalancerClass ?? "";
  return cls === scope.loadBalancerClass || (cls === "" && scope.defaultClass);
}
