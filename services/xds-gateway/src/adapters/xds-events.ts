import type { NatsConnection } from "@nats-io/nats-core";
import { encodeEvent, makeEvent, subjects, type XdsActivity } from "@sharedlb/contracts";
import { describeError, headers, type Logger } from "@sharedlb/runtime";

export type XdsActivityInput = Omit<XdsActivity, "replica">;

/** Where connect, disconnect, ack and nack of every stream are reported. */
export interface XdsEventSink {
  emit(activity: XdsActivityInput): void;
}

export const NO_EVENTS: XdsEventSink = { emit() {} };

const clip = (s: string, max: number) => (s.length > max ? s.slice(0, max) : s);

/**
 * Publishes `lb.xds.<fleet>.<node>` events (io.sharedlb.xds.v1) with core NATS publish:
 * LB_EVENTS captures them, and a stream never waits for JetStream to acknowledge its
 * own activity report. Failures are logged, never thrown into a stream.
 */
export class NatsXdsEvents implements XdsEventSink {
  constructor(
    private readonly nc: NatsConnection,
    private readonly replica: string,
    private readonly log: Logger,
  ) {}

  emit(a: XdsActivityInput): void {
    try {
      const data: XdsActivity = {
        ...a,
        fleet: clip(a.fleet, 253),
        node: clip(a.node, 1024),
        replica: clip(this.replica, 253),
        ...(a.version !== undefined ? { version: clip(a.version, 256) } : {}),
        ...(a.errorDetail ? { errorDetail: { code: a.errorDetail.code, message: clip(a.errorDetail.message, 65536) } } : {}),
      };
      const event = makeEvent({
        type: "io.sharedlb.xds.v1",
        source: `sharedlb/xds-gateway/${this.replica}`,
        subject: clip(`${data.fleet}/${data.node}`, 1024),
        data,
      });
      const h = headers();
      h.set("Nats-Msg-Id", event.id);
      this.nc.publish(subjects.xds(data.fleet, data.node), encodeEvent(event), { headers: h });
    } catch (err) {
      this.log.warn({ err: describeError(err), event: a.event }, "xDS activity event not published");
    }
  }
}
