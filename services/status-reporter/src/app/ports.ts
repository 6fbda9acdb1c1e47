import type { V1Service } from "@kubernetes/client-node";
import type { Allocation } from "@sharedlb/contracts";
import type { ReportInput } from "../adapters/status-publisher.js";
import type { DesiredEvent } from "../domain/desired-status.js";
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
 * L7 allocations are not delivered by this version.
 */
export interface AllocationFeed {
  replay(): Promise<{ allocation: Allocation; seq: number }[]>;
  /** Creates or verifies the durable consumer; may be retried. */
  prepare(): Promise<void>;
  consume(handle: (d: AllocationDelivery) => Promise<Disposition>): FeedSubscription;
}
