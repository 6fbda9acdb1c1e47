import type { JsMsg } from "@nats-io/jetstream";
import { ContractViolation, decodeAnyAllocationMessage, decodeResourceMessage, STREAM_NAMES } from "@sharedlb/contracts";
import { type ConsumerMetrics, type DeadLetterSink, errorDetails, type Logger } from "@sharedlb/runtime";
import type { Gateway } from "../app/gateway.js";
import type { GatewayMetrics } from "../metrics.js";

export const SERVICE_NAME = "xds-gateway";

/**
 * Turns stream messages into view changes. Only messages that pass the contract's
 * validation are applied; the others are reported on lb.deadletter.xds-gateway and
 * skipped (an ordered consumer has nothing to terminate), and nothing else is affected.
 * A valid message the view cannot apply is thrown to the StreamFollower, which keeps the
 * replica not ready until a later message for that subject applies.
 */
export class ViewFeed {
  constructor(
    private readonly gateway: Gateway,
    private readonly deadLetters: DeadLetterSink,
    private readonly metrics: GatewayMetrics,
    private readonly consumers: ConsumerMetrics,
    private readonly log: Logger,
  ) {}

  readonly onResource = (m: JsMsg): void => {
    // The sequence stands for creation order in route precedence ties (oldest first).
    this.apply(m, STREAM_NAMES.resources, () => this.gateway.applyResource(decodeResourceMessage(m.subject, m.data), m.seq));
  };

  readonly onAllocation = (m: JsMsg): void => {
    this.apply(m, STREAM_NAMES.allocations, () => {
      const decoded = decodeAnyAllocationMessage(m.subject, m.data);
      if (decoded.kind === "service") this.gateway.applyAllocation(decoded.event.data);
      else this.gateway.applyL7Allocation(decoded.event.data);
    });
  };

  private apply(m: JsMsg, stream: string, apply: () => void): void {
    // Before the change is applied, so a burst's first message already says more are coming.
    this.gateway.noteBacklog(stream, m.info.pending);
    try {
      apply();
    } catch (err) {
      if (!(err instanceof ContractViolation)) throw err;
      this.deadLetter(m, stream, err);
      return;
    }
    this.metrics.messages.inc({ stream, outcome: "applied" });
    this.consumers.messages.inc({ consumer: stream, outcome: "handled" });
  }

  private deadLetter(m: JsMsg, stream: string, err: ContractViolation): void {
    this.metrics.messages.inc({ stream, outcome: "deadletter" });
    const context = { subject: m.subject, seq: m.seq, bytes: m.data.length, reason: err.reason };
    this.log.warn({ ...context, err: err.message.slice(0, 512) }, "invalid message dead-lettered");
    // Every replica meets the message; the dead letter's id makes JetStream keep one.
    this.deadLetters.publish({ subject: m.subject, data: m.data, seq: m.seq }, err.reason, err.message).then(
      () => this.consumers.messages.inc({ consumer: stream, outcome: "deadlettered" }),
      (pubErr: unknown) => {
        this.consumers.messages.inc({ consumer: stream, outcome: "deadletter_failed" });
        this.log.error({ ...context, err: errorDetails(pubErr) }, "dead letter not published");
      },
    );
  }
}
