import type { JetStreamClient } from "@nats-io/jetstream";
import { makeEvent } from "@sharedlb/contracts";
import { publishEvent } from "@sharedlb/runtime";
import type { ResourceSink } from "../app/ports.js";
import type { DesiredResource } from "../domain/desired.js";
import { type ResourceRef, refEventSubject, refSubject } from "../domain/keys.js";

/** Publishes resource events and tombstones on `lb.resource.<cluster>.…`. */
export class ResourcePublisher implements ResourceSink {
  private readonly source: string;

  constructor(
    private readonly js: JetStreamClient,
    private readonly cluster: string,
  ) {
    this.source = `sharedlb/watcher/${cluster}`;
  }

  /** Returns true when the stream dropped it as a duplicate of an id it already holds. */
  async publish(ref: ResourceRef, desired: DesiredResource, id: string): Promise<boolean> {
    const event = makeEvent({
      type: desired.type,
      source: this.source,
      subject: refEventSubject(this.cluster, ref),
      id,
      data: desired.data,
    });
    const ack = await publishEvent(this.js, refSubject(this.cluster, ref), event);
    return ack.duplicate;
  }

  async tombstone(ref: ResourceRef, uid: string, id: string): Promise<boolean> {
    const event = makeEvent({
      type: "io.sharedlb.deleted.v1",
      source: this.source,
      subject: refEventSubject(this.cluster, ref),
      id,
      data: { cluster: this.cluster, kind: ref.kind, namespace: ref.namespace, name: ref.name, uid },
    });
    const ack = await publishEvent(this.js, refSubject(this.cluster, ref), event);
    return ack.duplicate;
  }
}
