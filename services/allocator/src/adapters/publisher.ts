import type { JetStreamClient } from "@nats-io/jetstream";
import { makeEvent, objectKey, subjects } from "@sharedlb/contracts";
import { publishEvent } from "@sharedlb/runtime";
import { type L7Record, toL7Allocation } from "../domain/l7-record.js";
import { type SlotRecord, toAllocation } from "../domain/slot-record.js";
import type { AllocationPublisher } from "../app/ports.js";
import type { L7AllocationPublisher } from "../app/l7-ports.js";

interface Versioned {
  owner: string;
  uid: string;
  version: number;
}

interface RecordSource<R> {
  markPublished(owner: string, version: number, allocSeq: number): Promise<boolean>;
  record(owner: string): Promise<R | null>;
}

/**
 * Publishes so that the last message on an allocation subject is always the current one,
 * even when replicas publish concurrently: after publishing, the version is marked
 * published only if it is still current; otherwise the current one goes out again, after
 * this (possibly stale) one.
 */
async function publishCurrent<R extends Versioned>(record: R, store: RecordSource<R>, send: (rec: R, id: string | undefined) => Promise<number>): Promise<void> {
  let rec: R | null = record;
  for (let i = 0; rec && i < 10; i++) {
    // The first attempt has a deterministic id, so a redelivered event that republishes
    // the same version is dropped. A corrective republish (a stale version landed after
    // this one) must not be: it gets a fresh id.
    const seq = await send(rec, i === 0 ? `${rec.owner}@${rec.uid}@${rec.version}` : undefined);
    if (await store.markPublished(rec.owner, rec.version, seq)) return;
    const current: R | null = await store.record(rec.owner);
    if (current && current.version === rec.version) return;
    rec = current;
  }
}

/** Publishes a Service's allocation on `lb.allocation.<c>.<ns>.<name>`. */
export class JetStreamAllocationPublisher implements AllocationPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly store: RecordSource<SlotRecord>,
    private readonly source: string,
  ) {}

  publish(record: SlotRecord): Promise<void> {
    return publishCurrent(record, this.store, async (rec, id) => {
      const event = makeEvent({ type: "io.sharedlb.allocation.v1", source: this.source, subject: rec.owner, ...(id ? { id } : {}), data: toAllocation(rec) });
      return (await publishEvent(this.js, subjects.allocation(rec.cluster, rec.namespace, rec.name), event)).seq;
    });
  }
}

/** Publishes a Gateway's or Ingress's allocation on `lb.allocation.<c>.<ns>.<name>.<kind>`. */
export class JetStreamL7AllocationPublisher implements L7AllocationPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly store: RecordSource<L7Record>,
    private readonly source: string,
  ) {}

  publish(record: L7Record): Promise<void> {
    return publishCurrent(record, this.store, async (rec, id) => {
      const subject = objectKey(rec.cluster, rec.namespace, rec.name);
      const event = makeEvent({ type: "io.sharedlb.l7allocation.v1", source: this.source, subject, ...(id ? { id } : {}), data: toL7Allocation(rec) });
      return (await publishEvent(this.js, subjects.l7Allocation(rec.cluster, rec.namespace, rec.name, rec.kind), event)).seq;
    });
  }
}
