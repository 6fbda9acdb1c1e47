import type { JetStreamClient } from "@nats-io/jetstream";
import { makeEvent, subjects } from "@sharedlb/contracts";
import { publishEvent } from "@sharedlb/runtime";
import { type SlotRecord, toAllocation } from "../domain/slot-record.js";
import type { AllocationPublisher } from "../app/ports.js";
import type { SlotStore } from "./slot-store.js";

/**
 * Publishes a Service's allocation so that the last message on its subject is always the
 * current one, even when replicas publish concurrently: after publishing, the version is
 * marked published only if it is still current; otherwise the current one goes out again,
 * after this (possibly stale) one.
 */
export class JetStreamAllocationPublisher implements AllocationPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly store: Pick<SlotStore, "markPublished" | "record">,
    private readonly source: string,
  ) {}

  async publish(record: SlotRecord): Promise<void> {
    let rec: SlotRecord | null = record;
    for (let i = 0; rec && i < 10; i++) {
      const event = makeEvent({
        type: "io.sharedlb.allocation.v1",
        source: this.source,
        subject: rec.owner,
        // The first attempt has a deterministic id, so a redelivered event that republishes
        // the same version is dropped. A corrective republish (a stale version landed after
        // this one) must not be: it gets a fresh id.
        ...(i === 0 ? { id: `${rec.owner}@${rec.uid}@${rec.version}` } : {}),
        data: toAllocation(rec),
      });
      const ack = await publishEvent(this.js, subjects.allocation(rec.cluster, rec.namespace, rec.name), event);
      if (await this.store.markPublished(rec.owner, rec.version, ack.seq)) return;
      const current = await this.store.record(rec.owner);
      if (current && current.version === rec.version) return;
      rec = current;
    }
  }
}
