import type { V1Service } from "@kubernetes/client-node";
import type { Allocation, GatewayResource, L7Allocation, Programmed, RouteResource } from "@sharedlb/contracts";
import type { EventContent, EventRegarding } from "../adapters/event-recorder.js";
import type { ReportInput } from "../adapters/status-publisher.js";
import type { DesiredEvent } from "../domain/desired-status.js";
import type { NodeNotice } from "../domain/serving-notices.js";
import type { L7ObjectKind, RouteKind } from "../domain/l7/gateway-api.js";
import type { L7StatusPatch } from "../domain/l7/l7-plan.js";
import type { StatusPatch } from "../domain/status-plan.js";

/** The cluster's Services as the informer cache holds them. */
export interface ServiceCache {
  start(): void;
  waitForSync(): Promise<void>;
  stop(): Promise<void>;
  get(name: string, namespace: string): V1Service | undefined;
  list(): readonly V1Service[];
}

/** Writes a planned status to a Service; reads one fresh when a write conflicts. */
export interface StatusWriter {
  apply(namespace: string, name: string, patch: StatusPatch): Promise<V1Service>;
  read(namespace: string, name: string): Promise<V1Service>;
}

/** Kubernetes Events on Services; resolves false when the named Event already exists. */
export interface EventSink {
  record(svc: V1Service, name: string, event: DesiredEvent): Promise<boolean>;
  /** A Warning Event on a tenant Node, once per (Node, note); `gone` when the Node does not exist. */
  recordOnNode(node: string, notice: NodeNotice): Promise<"recorded" | "exists" | "gone">;
}

/** `lb.status` reports of what was written, or why not. */
export interface StatusReports {
  publish(report: ReportInput): Promise<void>;
}

/** One Service allocation delivered by the feed. */
export interface AllocationDelivery {
  allocation: Allocation;
  /** Stream sequence: orders deliveries of the same Service. */
  seq: number;
  /** When the allocator published it (ms since the epoch), for the lag metric. */
  publishedAtMs: number;
}

/**
 * What the application asks of a delivery: `done` (acknowledge), `retry` (again soon,
 * e.g. while stopping: the next leader gets it), `backoff` (again after a growing delay).
 */
export type Disposition = "done" | "retry" | "backoff";

export interface FeedSubscription {
  readonly ready: boolean;
  drain(): Promise<void>;
}

/**
 * The cluster's allocations: the stream's last values, and then every new one. Messages
 * that break the contract never reach the application (the feed dead-letters them);
 * L7 allocations are delivered by the L7 feed instead.
 */
export interface AllocationFeed {
  replay(): Promise<{ allocation: Allocation; seq: number }[]>;
  /** Creates or verifies the durable consumer; may be retried. */
  prepare(): Promise<void>;
  consume(handle: (d: AllocationDelivery) => Promise<Disposition>): FeedSubscription;
}

// --- Layer 7 -----------------------------------------------------------------------

/** Where the L7 feed delivers what the LB side says about this cluster (tombstones as undefined). */
export interface L7Sink {
  allocation(a: L7Allocation, seq: number): void;
  /** `source`: the CloudEvent source, i.e. which xds-gateway replica reported. */
  programmed(p: Programmed, source: string, seq: number): void;
  gateway(namespace: string, name: string, r: GatewayResource | undefined, seq: number): void;
  route(kind: RouteKind | "ingress", namespace: string, name: string, r: RouteResource | undefined, seq: number): void;
}

export interface L7Feed {
  /** Starts following; resolves once the current state has been delivered. */
  start(sink: L7Sink): Promise<void>;
  readonly caughtUp: boolean;
  stop(): Promise<void>;
}

/** The tenant's L7 objects: read one (undefined: it does not exist), merge-patch its status. */
export interface L7ObjectStore {
  get(kind: L7ObjectKind, namespace: string, name: string): Promise<unknown>;
  patchStatus(kind: L7ObjectKind, namespace: string, name: string, body: L7StatusPatch): Promise<unknown>;
}

/** Kubernetes Events about L7 objects; resolves false when the named Event already exists. */
export interface L7EventSink {
  recordAbout(regarding: EventRegarding, name: string, event: EventContent, action: string): Promise<boolean>;
}
