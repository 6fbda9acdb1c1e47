import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import {
  ContractViolation,
  decodeAllocationMessage,
  decodeResourceMessage,
  isServiceAllocationSubject,
  STREAM_NAMES,
} from "@sharedlb/contracts";
import { describeError, type Logger, publishDeadLetter } from "@sharedlb/runtime";
import type { Gateway } from "../app/gateway.js";
import type { GatewayMetrics } from "../metrics.js";

export const SERVICE_NAME = "xds-gateway";

/**
 * Turns stream messages into view changes. Only messages that pass the contract's
 * validation are applied; the others are reported on lb.deadletter.xds-gateway and
 * skipped (an ordered consumer has nothing to terminate), and nothing else is affected.
 */
export class ViewFeed {
  constructor(
    private readonly gateway: Gateway,
    private readonly js: JetStreamClient,
    private readonly replica: string,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  readonly onResource = (m: JsMsg): void => {
    this.apply(m, STREAM_NAMES.resources, () => this.gateway.applyResource(decodeResourceMessage(m.subject, m.data)));
  };

  readonly onAllocation = (m: JsMsg): void => {
    // L7 allocations (one subject token more) are not served by this gateway version yet.
    if (!isServiceAllocationSubject(m.subject)) {
      this.metrics.messages.inc({ stream: STREAM_NAMES.allocations, outcome: "ignored" });
      return;
    }
    this.apply(m, STREAM_NAMES.allocations, () => this.gateway.applyAllocation(decodeAllocationMessage(m.subject, m.data).data));
  };

  private apply(m: JsMsg, stream: string, apply: () => void): void {
    try {
      apply();
      this.metrics.messages.inc({ stream, outcome: "applied" });
    } catch (err) {
      if (!(err instanceof ContractViolation)) throw err;
      this.metrics.messages.inc({ stream, outcome: "deadletter" });
      this.log.warn({ subject: m.subject, seq: m.seq, reason: err.reason, err: err.message }, "invalid message dead-lettered");
      publishDeadLetter(
        this.js,
        SERVICE_NAME,
        this.replica,
        { subject: m.subject, data: m.data, seq: m.seq },
        err.reason,
        err.message,
      ).catch((pubErr: unknown) => this.log.warn({ subject: m.subject, err: describeError(pubErr) }, "dead letter not published"));
    }
  }
}
