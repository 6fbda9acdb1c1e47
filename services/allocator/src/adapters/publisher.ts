import type { JetStreamClient } from "@nats-io/jetstream";
import { makeEvent, objectKey, subjects } from "@sharedlb/contracts";
import { publishEvent } from "@sharedlb/runtime";
import { type L7Record, toL7Allocation } from "../domain/l7-record.js";
import { mergeStack, secondOwnerOf, serviceOwner } from "../domain/dual-stack.js";
import type { SlotRecord } from "../domain/slot-record.js";
import type { AllocationPublisher, PublishHints, SendLedger } from "../app/ports.js";
import type { L7AllocationPublisher } from "../app/l7-ports.js";

interface Versioned {
  owner: string;
  uid: string;
  version: number;
}

interface RecordSource<R> {
  record(owner: string): Promise<R | null>;
}

/** Publishing's marks in the slot table: the published version, and each send until its sender is done. */
type PublishLedger = Pick<SendLedger, "beginSend" | "endSend"> & { markPublished(owner: string, version: number, allocSeq: number): Promise<boolean> };

/** A Service's publishing also marks in the one home the apply named, ending the apply's note in the same call (adapters/slot-store.ts). */
type ServicePublishLedger = PublishLedger & {
  markPublishedIn(home: string, owner: string, version: number, allocSeq: number, note?: string): Promise<{ marked: boolean; ended: boolean }>;
};

/**
 * Notes the send in the slot table until its sender is done. A newer version marked
 * published by another replica empties the outbox, so an older message that lands after it
 * is only set right by its sender; a note left behind (the sender was killed, or its send
 * failed) is finished by the janitor (app/owner-publisher.ts).
 */
async function noted(ledger: PublishLedger, owner: string, send: () => Promise<void>): Promise<void> {
  const token = await ledger.beginSend(owner, Date.now());
  await send();
  await ledger.endSend(token);
}

/**
 * Publishes so that the last message on an allocation subject is always the current one,
 * even when replicas publish concurrently: after publishing, the version is marked
 * published only if it is still current; otherwise the current one goes out again, after
 * this (possibly stale) one.
 */
async function publishCurrent<R extends Versioned>(
  record: R,
  store: RecordSource<R> & PublishLedger,
  fresh: boolean,
  send: (rec: R, id: string | undefined) => Promise<number>,
): Promise<void> {
  let rec: R | null = record;
  for (let i = 0; rec && i < 10; i++) {
    // The first attempt has a deterministic id, so a redelivered event that republishes
    // the same version is dropped. A corrective republish (a stale version landed after
    // this one) must not be: it gets a fresh id.
    const seq = await send(rec, i === 0 && !fresh ? `${rec.owner}@${rec.uid}@${rec.version}` : undefined);
    if (await store.markPublished(rec.owner, rec.version, seq)) return;
    const current: R | null = await store.record(rec.owner);
    if (current && current.version === rec.version) return;
    rec = current;
  }
}

/**
 * Publishes a Service's allocation on `lb.allocation.<c>.<ns>.<name>`: its first-family
 * record merged with its second-family record, if it has one (dual-stack). Either record
 * may be the one that changed; both are marked published, and if either moved meanwhile
 * the current merge goes out again.
 */
export class JetStreamAllocationPublisher implements AllocationPublisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly store: RecordSource<SlotRecord> & ServicePublishLedger,
    private readonly source: string,
  ) {}

  /**
   * With hints from the apply, its notes stand for this send (written in the same call as the
   * commit); the one of a single-stack Service ends in the markPublished that finds its version
   * current, any other once the send is done, as noted() does. Without, the send is noted here.
   */
  async publish(record: SlotRecord, hints?: PublishHints): Promise<void> {
    if (!hints || hints.notes.length === 0) {
      return noted(this.store, serviceOwner(record.owner), async () => {
        await this.publishMerged(record, false, hints);
      });
    }
    const ended = await this.publishMerged(record, false, hints);
    for (const note of hints.notes) if (note !== ended) await this.store.endSend(note);
  }

  async republish(record: SlotRecord): Promise<void> {
    await this.publishMerged(record, true);
  }

  /** Returns the note (of hints) that its markPublished ended, if one did. */
  private async publishMerged(record: SlotRecord, fresh: boolean, hints?: PublishHints): Promise<string | undefined> {
    const owner = serviceOwner(record.owner);
    for (let i = 0; i < 10; i++) {
      // The apply's record and what it said hold for the first attempt only; later ones read.
      const applied = i === 0 && record.owner === owner;
      const first = applied ? record : await this.store.record(owner);
      if (!first) return undefined;
      const second = applied && hints?.secondFamily === false ? null : await this.store.record(secondOwnerOf(first));
      const data = mergeStack(first, second);
      // As in publishCurrent: the first attempt's id is deterministic (a redelivery is dropped).
      const id = i === 0 && !fresh ? `${owner}@${first.uid}@${data.allocationVersion}` : undefined;
      const event = makeEvent({ type: "io.sharedlb.allocation.v1", source: this.source, subject: owner, ...(id ? { id } : {}), data });
      const seq = (await publishEvent(this.js, subjects.allocation(first.cluster, first.namespace, first.name), event)).seq;
      // A dual-stack send is done only once both are marked: its notes end after, in publish().
      const note = !second && hints?.notes.length === 1 ? hints.notes[0] : undefined;
      const hinted = applied && hints?.home !== undefined ? await this.store.markPublishedIn(hints.home, first.owner, first.version, seq, note) : null;
      const firstMarked = hinted?.marked || (await this.store.markPublished(first.owner, first.version, seq));
      const secondMarked = second ? await this.store.markPublished(second.owner, second.version, seq) : true;
      if (firstMarked && secondMarked) return hinted?.ended ? note : undefined;
    }
    return undefined;
  }
}

/** Publishes a Gateway's or Ingress's allocation on `lb.allocation.<c>.<ns>.<name>.<kind>`, its sends noted as a Service's are. */
export class JetStreamL7AllocationPublisher implements L7AllocationPublisher {
  private readonly store: RecordSource<L7Record> & PublishLedger;

  constructor(
    private readonly js: JetStreamClient,
    records: RecordSource<L7Record>,
    private readonly ledger: PublishLedger,
    private readonly source: string,
  ) {
    this.store = {
      record: (owner) => records.record(owner),
      markPublished: (owner, version, allocSeq) => ledger.markPublished(owner, version, allocSeq),
      beginSend: (owner, now) => ledger.beginSend(owner, now),
      endSend: (token) => ledger.endSend(token),
    };
  }

  publish(record: L7Record): Promise<void> {
    return noted(this.ledger, record.owner, () => this.send(record, false));
  }

  republish(record: L7Record): Promise<void> {
    return this.send(record, true);
  }

  private send(record: L7Record, fresh: boolean): Promise<void> {
    return publishCurrent(record, this.store, fresh, async (rec, id) => {
      const subject = objectKey(rec.cluster, rec.namespace, rec.name);
      const event = makeEvent({ type: "io.sharedlb.l7allocation.v1", source: this.source, subject, ...(id ? { id } : {}), data: toL7Allocation(rec) });
      return (await publishEvent(this.js, subjects.l7Allocation(rec.cluster, rec.namespace, rec.name, rec.kind), event)).seq;
    });
  }
}
