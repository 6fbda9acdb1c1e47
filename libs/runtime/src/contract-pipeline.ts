import type { JsMsg } from "@nats-io/jetstream";
import { ContractViolation } from "@sharedlb/contracts";
import { backoffMs } from "./backoff.js";
import type { ConsumerMetrics, MessageOutcome } from "./consumer-metrics.js";
import type { RejectedMessage } from "./dead-letters.js";
import { describeError, errorDetails, errorReason } from "./errors.js";
import type { Logger } from "./logging.js";

/** A handler's answer when the message cannot be applied yet but will be later (not a failure). */
export interface RetryLater {
  retryLater: string;
  delayMs?: number;
}

export type HandleResult = undefined | RetryLater;

/** Where dead letters go; DeadLetterPublisher in production. */
export interface DeadLetterSink {
  publish(original: RejectedMessage, reason: string, message: string): Promise<void>;
}

export interface ContractPipelineOptions<T> {
  /** The durable consumer's name: the `consumer` label of the outcome metric. */
  consumer: string;
  /** Parses and validates; throws ContractViolation for a message that breaks the contract. */
  decode(subject: string, data: Uint8Array): T;
  /** Applies a valid message. Throwing is a failure: redelivered with backoff, bounded. */
  handle(value: T, m: JsMsg): Promise<HandleResult>;
  deadLetters: DeadLetterSink;
  metrics: ConsumerMetrics;
  log: Logger;
  /** Deliveries after which a message that keeps failing is dead-lettered and terminated (10). */
  maxDeliveries?: number;
  /**
   * Failures of a dependency (Redis or the API server down) rather than of this message:
   * retried with backoff for as long as it lasts, never counted against maxDeliveries.
   */
  isUnavailable?(err: unknown): boolean;
  /** Called with every outcome, for a service's own metrics. */
  onOutcome?(outcome: MessageOutcome): void;
}

/**
 * The one path of every contract message a durable consumer receives: decode → validate →
 * handle → ack; invalid → dead letter → term; a failing handler → logged with its cause,
 * nak with backoff, and after maxDeliveries dead-lettered and terminated. A dead letter
 * that cannot be published leaves the message to be redelivered (with backoff), logged.
 * `process` never throws, so nothing upstream (the keyed queue) has an error to lose.
 */
export class ContractPipeline<T> {
  private readonly maxDeliveries: number;

  constructor(private readonly o: ContractPipelineOptions<T>) {
    this.maxDeliveries = o.maxDeliveries ?? 10;
  }

  readonly process = async (m: JsMsg): Promise<void> => {
    try {
      await this.run(m);
    } catch (err) {
      // Only ack/nak/term themselves can get here (a closed connection): the message comes back.
      this.o.log.error({ consumer: this.o.consumer, subject: m.subject, seq: m.seq, err: errorDetails(err) }, "message not settled");
    }
  };

  private async run(m: JsMsg): Promise<void> {
    let value: T;
    try {
      value = this.o.decode(m.subject, m.data);
    } catch (err) {
      if (err instanceof ContractViolation) {
        await this.deadLetter(m, err.reason, err.message, "deadlettered");
        return;
      }
      await this.failed(m, err);
      return;
    }
    let result: HandleResult;
    try {
      result = await this.o.handle(value, m);
    } catch (err) {
      if (this.o.isUnavailable?.(err)) {
        this.count("unavailable");
        this.o.log.warn(
          { consumer: this.o.consumer, subject: m.subject, seq: m.seq, delivery: m.info.deliveryCount, err: errorDetails(err) },
          "a dependency is unavailable; the message will be redelivered",
        );
        m.nak(backoffMs(m.info.deliveryCount));
        return;
      }
      await this.failed(m, err);
      return;
    }
    if (result !== undefined) {
      this.count("retried");
      m.nak(result.delayMs ?? backoffMs(m.info.deliveryCount));
      return;
    }
    m.ack();
    this.count("handled");
  }

  private async failed(m: JsMsg, err: unknown): Promise<void> {
    const delivery = m.info.deliveryCount;
    const context = { consumer: this.o.consumer, subject: m.subject, seq: m.seq, delivery, err: errorDetails(err) };
    if (delivery >= this.maxDeliveries) {
      this.o.log.error(context, `handling failed ${delivery} times; dead-lettering the message`);
      await this.deadLetter(m, "MaxDeliveriesExceeded", `failed ${delivery} deliveries (${errorReason(err)}): ${describeError(err)}`, "exhausted");
      return;
    }
    this.count("failed");
    this.o.log.error(context, "handling failed; the message will be redelivered");
    m.nak(backoffMs(delivery));
  }

  private async deadLetter(m: JsMsg, reason: string, message: string, outcome: "deadlettered" | "exhausted"): Promise<void> {
    const context = { consumer: this.o.consumer, subject: m.subject, seq: m.seq, bytes: m.data.length, reason };
    try {
      await this.o.deadLetters.publish({ subject: m.subject, data: m.data, seq: m.seq }, reason, message);
    } catch (err) {
      this.count("deadletter_failed");
      this.o.log.error({ ...context, err: errorDetails(err) }, "dead letter not published; the message will be redelivered");
      m.nak(backoffMs(m.info.deliveryCount));
      return;
    }
    m.term();
    this.count(outcome);
    this.o.log.warn({ ...context, err: message.slice(0, 512) }, "message dead-lettered and terminated");
  }

  private count(outcome: MessageOutcome): void {
    this.o.metrics.messages.inc({ consumer: this.o.consumer, outcome });
    this.o.onOutcome?.(outcome);
  }
}
