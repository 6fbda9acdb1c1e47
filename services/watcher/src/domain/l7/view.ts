import type { V1IngressClass, V1Secret, V1Service } from "@kubernetes/client-node";
import type { Gateway, GatewayClass, ReferenceGrant } from "./gateway-api.js";

/** The controller names sharedlb answers to. */
export const GATEWAY_CONTROLLER = "sharedlb.io/gateway-controller";
export const INGRESS_CONTROLLER = "sharedlb.io/ingress-controller";

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

/**
 * What L7 normalization reads of the tenant cluster: lookups into the informer caches.
 * Pure data access, so normalization stays a function of the cluster's state.
 */
export interface L7View {
  cluster: string;
  /** The time certificates are judged against. */
  now: Date;
  gatewayClass(name: string): GatewayClass | undefined;
  gateway(namespace: string, name: string): Gateway | undefined;
  ingressClass(name: string): V1IngressClass | undefined;
  listIngressClasses(): readonly V1IngressClass[];
  namespaces(): readonly NamespaceInfo[];
  namespace(name: string): NamespaceInfo | undefined;
  referenceGrants(namespace: string): readonly ReferenceGrant[];
  service(namespace: string, name: string): V1Service | undefined;
  /** Only `kubernetes.io/tls` Secrets are visible. */
  secret(namespace: string, name: string): V1Secret | undefined;
}
