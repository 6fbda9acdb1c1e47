import type { V1EndpointSlice, V1Ingress, V1IngressClass, V1Node, V1Secret, V1Service } from "@kubernetes/client-node";
import type { DesiredResource, PublishedEntry } from "../domain/desired.js";
import type { ResourceRef } from "../domain/keys.js";
import type { Gateway, GatewayClass, ReferenceGrant } from "../domain/l7/gateway-api.js";
import type { GatewayRoute, GatewayRouteKind } from "../domain/l7/routes.js";
import type { NamespaceInfo } from "../domain/l7/view.js";

/** The tenant cluster's objects as the informer caches hold them. */
export interface ClusterObjects {
  start(): void;
  waitForSync(): Promise<void>;
  stop(): Promise<void>;
  listServices(): readonly V1Service[];
  listNodes(): readonly V1Node[];
  service(namespace: string, name: string): V1Service | undefined;
  node(name: string): V1Node | undefined;
  slicesOf(namespace: string, service: string): readonly V1EndpointSlice[];
}

/** What the stream holds for this cluster, by work-queue key. */
export interface PublishedReplay {
  entries: Map<string, PublishedEntry>;
  /** The stream state the replay reflects (or a later one), for ids of subjects found empty. */
  streamSeq: number;
}

export interface PublishedState {
  replay(): Promise<PublishedReplay>;
}

/** Where resource events go; each returns true when the stream dropped it as a duplicate. */
export interface ResourceSink {
  publish(ref: ResourceRef, desired: DesiredResource, id: string): Promise<boolean>;
  tombstone(ref: ResourceRef, uid: string, id: string): Promise<boolean>;
}

/** The tenant cluster's L7 objects as the informer caches hold them (Gateway API kinds once served). */
export interface L7Objects {
  start(): void;
  /** Resolves when the caches are complete: the core kinds and every Gateway API kind the cluster serves synced. */
  waitForSync(): Promise<void>;
  stop(): Promise<void>;
  /** True when the caches hold every L7 object: nothing may be judged unreferenced before. */
  readonly complete: boolean;
  listIngresses(): readonly V1Ingress[];
  ingress(namespace: string, name: string): V1Ingress | undefined;
  listGateways(): readonly Gateway[];
  gateway(namespace: string, name: string): Gateway | undefined;
  listRoutes(kind: GatewayRouteKind): readonly GatewayRoute[];
  route(kind: GatewayRouteKind, namespace: string, name: string): GatewayRoute | undefined;
  gatewayClass(name: string): GatewayClass | undefined;
  referenceGrants(namespace: string): readonly ReferenceGrant[];
  ingressClass(name: string): V1IngressClass | undefined;
  listIngressClasses(): readonly V1IngressClass[];
  namespaces(): readonly NamespaceInfo[];
  namespace(name: string): NamespaceInfo | undefined;
  secret(namespace: string, name: string): V1Secret | undefined;
  listSecrets(): readonly V1Secret[];
}

/** Writes NodePort companion Services (only those; the watcher writes nothing else). */
export interface CompanionStore {
  create(svc: V1Service): Promise<void>;
  replace(svc: V1Service): Promise<void>;
  delete(namespace: string, name: string): Promise<void>;
}
