import type { L7Allocation } from "@sharedlb/contracts";
import type { L7OwnerKind } from "../domain/l7-owner.js";
import type { L7Claim, L7Occupancy } from "../domain/l7-placement.js";
import type { L7Record } from "../domain/l7-record.js";

// What the L7 side of the application layer needs from the outside (adapters/l7-*.ts).

/** One change of a Gateway's or Ingress's record, as lua/l7-apply.lua takes it. */
export interface L7ApplyArgs {
  mode: "claim" | "release";
  retry?: boolean;
  owner: string;
  kind: L7OwnerKind;
  cluster: string;
  namespace: string;
  name: string;
  uid: string;
  generation?: number;
  seq: number;
  now: number;
  releaseDelayMs: number;
  pool: string;
  /** The pool's L7 version the placement was decided on; absent when it needed no snapshot. */
  ver?: number;
  claims: L7Claim[];
  state: L7Allocation["state"];
  reason: string;
  message: string;
  listeners: string;
  waits: boolean;
  costServices: number;
  costPorts: number;
  quotaServices: number;
  quotaPorts: number;
  resource?: string;
}

export interface L7ApplyResult {
  /** moved: the pool changed since the snapshot; plan again. Otherwise as for Services. */
  outcome: "applied" | "unchanged" | "stale" | "staleIncarnation" | "moved";
  record: L7Record | null;
  publish: boolean;
}

export interface L7Snapshot {
  version: number;
  occupancy: L7Occupancy;
  record: L7Record | null;
}

export interface L7SlotTable {
  apply(args: L7ApplyArgs): Promise<L7ApplyResult>;
  record(owner: string): Promise<L7Record | null>;
  snapshot(owner: string, cluster: string, pool: string, ips: readonly string[], ports: readonly number[]): Promise<L7Snapshot>;
}

/** Publishes a record's L7 allocation on `lb.allocation.<c>.<ns>.<name>.<kind>` so the last value is the current one. */
export interface L7AllocationPublisher {
  publish(record: L7Record): Promise<void>;
  /** Sends it again with a fresh message id, to land after an older message that went out before it. */
  republish(record: L7Record): Promise<void>;
}
