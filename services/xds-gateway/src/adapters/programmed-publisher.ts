import type { NatsConnection } from "@nats-io/nats-core";
import { encodeEvent, makeEvent, type Programmed, subjects } from "@sharedlb/contracts";
import { describeError, headers, type Logger } from "@sharedlb/runtime";
import type { ProgrammedSink } from "../app/programmed-reporter.js";

/**
 * Publishes `lb.programmed.<cluster>.<ns>.<name>[.<kind>]` (io.sharedlb.programmed.v1)
 * with core NATS publish into LB_EVENTS. The source names the replica: each replica
 * counts the Envoys connected to it. Failures are logged, never thrown.
 */
export class NatsProgrammedPublisher implements ProgrammedSink {
  constructor(
    private readonly nc: NatsConnection,
    private readonly replica: string,
    private readonly log: Logger,
    private readonly onPublished: () => void = () => {},
  ) {}

  publish(report: Programmed): void {
    try {
      const event = makeEvent({
        type: "io.sharedlb.programmed.v1",
        source: `sharedlb/xds-gateway/${this.replica}`,
        subject: `${report.kind}/${report.cluster}/${report.namespace}/${report.name}`,
        data: report,
      });
      const h = headers();
      h.set("Nats-Msg-Id", event.id);
      this.nc.publish(subjects.programmed(report.cluster, report.namespace, report.name, report.kind), encodeEvent(event), {
        headers: h,
      });
      this.onPublished();
    } catch (err) {
      this.log.warn(
        { err: describeError(err), kind: report.kind, object: `${report.cluster}/${report.namespace}/${report.name}` },
        "lb.programmed not published",
      );
    }
  }
}
