import type { V1EndpointSlice, V1Node, V1Service } from "@kubernetes/client-node";
import type { EndpointsResource, GatewayResource, NodeResource, RouteResource, SecretResource, ServiceResource } from "@sharedlb/contracts";
import type { ClassScope } from "@sharedlb/kube";
import { normalizeEndpoints } from "./endpoints.js";
import { resourceEventId, tombstoneEventId } from "./event-ids.js";
import { canonicalJson, shortHash } from "./fingerprint.js";
import { normalizeNode } from "./node.js";
import { normalizeService } from "./service.js";

/**
 * The state one subject should hold. `version` is the object's own version (its
 * resourceVersion; for endpoints, which are no single object, a hash of the content); the
 * event id is derived from it by `decide`.
 */
export type DesiredResource = DesiredService | DesiredNode | DesiredEndpoints | DesiredGateway | DesiredRoute | DesiredSecret;

interface Versioned {
  uid: string;
  version: string;
  fingerprint: string;
}
export type DesiredService = { type: "io.sharedlb.service.v1"; data: ServiceResource } & Versioned;
export type DesiredNode = { type: "io.sharedlb.node.v1"; data: NodeResource } & Versioned;
export type DesiredEndpoints = { type: "io.sharedlb.endpoints.v1"; data: EndpointsResource } & Versioned;
export type DesiredGateway = { type: "io.sharedlb.gateway.v1"; data: GatewayResource } & Versioned;
export type DesiredRoute = { type: "io.sharedlb.route.v1"; data: RouteResource } & Versioned;
export type DesiredSecret = { type: "io.sharedlb.secret.v1"; data: SecretResource } & Versioned;

/** What the stream holds for one subject, as far as this watcher knows. */
export interface PublishedEntry {
  /** uid to put in a tombstone; empty when unknown. */
  uid: string;
  /** Fingerprint of the data last published; null when the last event is a tombstone. */
  fingerprint: string | null;
  /** CloudEvent id of the last event. */
  id: string;
}

export type Action =
  | { kind: "none" }
  | { kind: "publish"; desired: DesiredResource; id: string }
  | { kind: "tombstone"; uid: string; id: string };

/**
 * Publish what changed, tombstone what is gone, nothing otherwise. `absentId` stands for
 * "the stream holds nothing on this subject" in event ids; it names the stream state it
 * was observed in (see `eventIdFor`).
 */
export function decide(desired: DesiredResource | undefined, published: PublishedEntry | undefined, absentId = "absent"): Action {
  if (desired) {
    if (published?.fingerprint === desired.fingerprint) return { kind: "none" };
    return { kind: "publish", desired, id: eventIdFor(desired, published?.id ?? absentId) };
  }
  if (published && published.fingerprint !== null) {
    return { kind: "tombstone", uid: published.uid, id: tombstoneEventId(published.id) };
  }
  return { kind: "none" };
}

/**
 * The event id (and Nats-Msg-Id): the object's uid and version, chained with the event it
 * replaces. Publishing the same version over the same state again (a retry, a restart, a
 * second replica) yields the same id, which the stream's dedupe window drops. A different
 * predecessor yields a new id: endpoints going back to an earlier content ({a} → {a, b} →
 * {a}) are not mistaken for a duplicate, and a value the stream lost (absent at a later
 * stream state) is restored at once instead of being dropped as a repeat of its first
 * publication.
 */
function eventIdFor(desired: DesiredResource, previousId: string): string {
  return resourceEventId(desired.data.cluster, eventKind(desired), desired.uid, `${desired.version}.${shortHash(previousId, 8)}`);
}

/** The subject's kind token of a desired resource. */
function eventKind(desired: DesiredResource): string {
  switch (desired.type) {
    case "io.sharedlb.service.v1":
      return "service";
    case "io.sharedlb.node.v1":
      return "node";
    case "io.sharedlb.endpoints.v1":
      return "endpoints";
    case "io.sharedlb.gateway.v1":
      return "gateway";
    case "io.sharedlb.route.v1":
      return desired.data.sourceKind.toLowerCase();
    case "io.sharedlb.secret.v1":
      return "secret";
  }
}

export function fingerprint(data: unknown): string {
  return canonicalJson(data);
}

export function desiredService(cluster: string, svc: V1Service | undefined, scope: ClassScope): DesiredService | undefined {
  const data = svc && normalizeService(cluster, svc, scope);
  if (!data || !svc) return undefined;
  const rv = svc.metadata?.resourceVersion ?? "";
  return { type: "io.sharedlb.service.v1", data, uid: data.uid, version: rv, fingerprint: fingerprint(data) };
}

export function desiredNode(cluster: string, node: V1Node | undefined): DesiredNode | undefined {
  if (!node) return undefined;
  const data = normalizeNode(cluster, node);
  const uid = node.metadata?.uid ?? "";
  const rv = node.metadata?.resourceVersion ?? "";
  return { type: "io.sharedlb.node.v1", data, uid, version: rv, fingerprint: fingerprint(data) };
}

/** Endpoints exist only for Services of ours with `externalTrafficPolicy: Local`. */
export function desiredEndpoints(
  cluster: string,
  svc: V1Service | undefined,
  slices: readonly V1EndpointSlice[],
  scope: ClassScope,
): DesiredEndpoints | undefined {
  const service = svc && normalizeService(cluster, svc, scope);
  const data = service && normalizeEndpoints(service, slices);
  if (!data || !service) return undefined;
  const fp = fingerprint(data);
  return { type: "io.sharedlb.endpoints.v1", data, uid: service.uid, version: shortHash(fp, 12), fingerprint: fp };
}
