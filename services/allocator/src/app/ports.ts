import type { Allocation, L7Allocation, ServiceResource } from "@sharedlb/contracts";
import type { L7Import } from "../domain/l7-import.js";
import type { ClaimRequest, Rejection } from "../domain/request.js";
import type { SlotRecord } from "../domain/slot-record.js";

// What the allocator's application layer needs from the outside, as small interfaces: the
// Redis slot table (adapters/slot-store.ts), NATS publishing and purging, the streams'
// last values. Tests and main.ts wire real adapters in.

export type ApplyMode =
  | { mode: "claim"; request: ClaimRequest; resource: ServiceResource }
  | { mode: "reject"; rejection: Rejection; resource: ServiceResource }
  | { mode: "release" };

export interface ApplyArgs {
  owner: string;
  cluster: string;
  namespace: string;
  name: string;
  uid: string;
  seq: number;
  now: number;
  releaseDelayMs: number;
  /** Re-plan a Pending Service under the sequence it already has. */
  retry?: boolean;
  /**
   * The caller publishes what the apply asks for: note the send in the same call
   * (ApplyResult.note), so the publisher need not note it before sending.
   */
  noteSend?: boolean;
}

export interface ApplyResult {
  /**
   * applied: the allocation changed; unchanged: nothing to do; stale: a newer event won;
   * staleIncarnation: a deletion of another object (uid) than the one held now, ignored.
   */
  outcome: "applied" | "unchanged" | "stale" | "staleIncarnation";
  record: SlotRecord | null;
  /** The record's current version has not been published yet. */
  publish: boolean;
  /** Where the record was applied (its pool's hash tag; "" is no pool): marked published there first. */
  home?: string;
  /** The send note the apply wrote (ApplyArgs.noteSend and a publish due), a SendLedger token. */
  note?: string;
  /** false: the Service has no second-family record (none was ever noted), so none is read. */
  secondFamily?: boolean;
}

/** What an apply told the publisher, so it repeats no read and notes no send the apply did. */
export interface PublishHints {
  /** ApplyResult.home of the record published. */
  home?: string;
  /** Send notes the applies wrote; the publisher ends them once done, as its own. */
  notes: readonly string[];
  /** false: no second-family record to merge. */
  secondFamily?: boolean;
}


/** One published allocation to re-import, with what fences and retries need. */
export interface ImportedAllocation {
  owner: string;
  cluster: string;
  namespace: string;
  name: string;
  uid: string;
  state: SlotRecord["state"];
  pool: string;
  ip: string;
  ports: Allocation["ports"];
  reason: string;
  message: string;
  seq: number;
  resourceSequence: number;
  version: number;
  allocSeq: number;
  resource: ServiceResource | null;
  now: number;
}

/** The slot table as event handling uses it: one atomic change, one read. */
export interface SlotTable {
  apply(args: ApplyArgs, change: ApplyMode): Promise<ApplyResult>;
  record(owner: string): Promise<SlotRecord | null>;
}

/** A lease so one replica at a time does a piece of periodic work. */
export interface Leases {
  holdLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
}

/** The slot table as the janitor uses it. */
export interface SlotTableMaintenance extends SlotTable, Leases, SendLedger {
  isReady(): Promise<boolean>;
  expireQuarantine(now: number, limit?: number): Promise<number>;
  /** Capacity epoch: moves whenever slots or quota become free. */
  epoch(): Promise<number>;
  waiting(limit: number): Promise<string[]>;
  unpublished(before: number, limit: number): Promise<string[]>;
  releasedBefore(before: number, limit: number): Promise<string[]>;
  forget(owner: string, version: number): Promise<boolean>;
}

/** The slot table as the re-import after a Redis data loss uses it. */
export interface SlotTableImport extends Leases {
  isReady(): Promise<boolean>;
  markReady(): Promise<void>;
  importAllocation(a: ImportedAllocation): Promise<string>;
  /** Returns the state the Gateway/Ingress was imported in, or "exists". */
  importL7(x: L7Import, now: number): Promise<string>;
}

/** Publishes a record's allocation on `lb.allocation.…` so the last value is the current one. */
export interface AllocationPublisher {
  /** hints: from the apply that changed it (no hints: the publisher notes its send itself). */
  publish(record: SlotRecord, hints?: PublishHints): Promise<void>;
  /** Sends it again with a fresh message id, to land after an older message that went out before it. */
  republish(record: SlotRecord): Promise<void>;
}

/**
 * Where publishers note each send (Services', Gateways', Ingresses') until their sender is
 * done, so that one whose sender died is finished by another replica.
 */
export interface SendLedger {
  beginSend(owner: string, now: number): Promise<string>;
  endSend(token: string): Promise<void>;
  /** Sends noted before `before` and never ended, with the owner each was for. */
  abandonedSends(before: number, limit: number): Promise<{ token: string; owner: string }[]>;
}

/** Removes a deleted Service's, Gateway's or Ingress's messages (by owner key) from the streams, up to a stream sequence. */
export interface StreamPurger {
  purgeResource(owner: string, upToSeq: number): Promise<void>;
  purgeAllocation(owner: string, upToSeq: number): Promise<void>;
}

/** The last published value per Service on LB_RESOURCES and LB_ALLOCATIONS (for the re-import). */
export interface PublishedState {
  /** owner → the last Service event (null for a tombstone) and its sequence. */
  resources(): Promise<Map<string, { seq: number; svc: ServiceResource | null }>>;
  /** owner → the last allocation and its sequence. */
  allocations(): Promise<Map<string, { seq: number; allocation: Allocation }>>;
  /** L7 owner → the last Gateway/Ingress as JSON ("" after a tombstone). */
  l7Resources(): Promise<Map<string, string>>;
  /** L7 owner → the last L7 allocation and its sequence. */
  l7Allocations(): Promise<Map<string, { seq: number; allocation: L7Allocation }>>;
}
