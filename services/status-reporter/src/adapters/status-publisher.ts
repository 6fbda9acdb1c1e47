import type { JetStreamClient } from "@nats-io/jetstream";
import { CONDITION_ALLOCATED, makeEvent, objectKey, type StatusReport, subjects } from "@sharedlb/contracts";
import { publishEvent } from "@sharedlb/runtime";

export type ReportInput = Omit<StatusReport, "cluster" | "kind" | "condition"> & {
  condition: Omit<StatusReport["condition"], "type">;
};

/** Publishes what was written (or why not) on `lb.status.<cluster>.<ns>.<name>`. */
export class StatusPublisher {
  private readonly source: string;

  constructor(
    private readonly js: JetStreamClient,
    private readonly cluster: string,
  ) {
    this.source = `sharedlb/status-reporter/${cluster}`;
  }

  async publish(r: ReportInput): Promise<void> {
    const data: StatusReport = {
      cluster: this.cluster,
      namespace: r.namespace,
      name: r.name,
      kind: "Service",
      outcome: r.outcome,
      ip: r.ip,
      ports: r.ports,
      condition: { type: CONDITION_ALLOCATED, ...r.condition, message: r.condition.message.slice(0, 32768) },
      ...(r.error !== undefined ? { error: r.error.slice(0, 4096) } : {}),
      ...(r.resourceSequence !== undefined ? { resourceSequence: r.resourceSequence } : {}),
    };
    const event = makeEvent({
      type: "io.sharedlb.status.v1",
      source: this.source,
      subject: objectKey(this.cluster, r.namespace, r.name),
      data,
    });
    await publishEvent(this.js, subjects.status(this.cluster, r.namespace, r.name), event);
  }
}
