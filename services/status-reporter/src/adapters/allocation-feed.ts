import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { ContractViolation, decodeAllocationMessage, isServiceAllocationSubject, STREAM_NAMES } from "@sharedlb/contracts";
import { backoffMs, describeError, DurableConsumer, type Logger, publishDeadLetter } from "@sharedlb/runtime";
import type { AllocationDelivery, AllocationFeed, Disposition, FeedSubscription } from "../app/ports.js";
import type { ReporterMetrics } from "../metrics.js";
import { consumerName, ensureAllocationConsumer, replayAllocations } from "./allocation-source.js";

export interface StreamAllocationFeedOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  cluster: string;
  replica: string;
  concurrency: number;
  ackWaitMs: number;
  metrics: ReporterMetrics;
  log: Logger;
}

/** The allocation feed on LB_ALLOCATIONS: replay of last values, then the cluster's durable consumer. */
export class StreamAllocationFeed implements AllocationFeed {
  constructor(private readonly opts: StreamAllocationFeedOptions) {}

  replay(): Promise<{ allocation: AllocationDelivery["allocation"]; seq: number }[]> {
    const { js, jsm, cluster, log } = this.opts;
    return replayAllocations(js, jsm, cluster, (subject, err) =>
      log.warn({ subject, err: describeError(err) }, "unreadable allocation skipped in replay"),
    );
  }

  prepare(): Promise<void> {
    return ensureAllocationConsumer(this.opts.jsm, this.opts.cluster, this.opts.ackWaitMs);
  }

  consume(handle: (d: AllocationDelivery) => Promise<Disposition>): FeedSubscription {
    const { js, cluster, concurrency, log } = this.opts;
    const consumer = new DurableConsumer(js, STREAM_NAMES.allocations, consumerName(cluster), (m) => this.deliver(m, handle), log, concurrency);
    consumer.start();
    return consumer;
  }

  private async deliver(m: JsMsg, handle: (d: AllocationDelivery) => Promise<Disposition>): Promise<void> {
    // L7 allocations share the cluster's filter but are not written back by this version.
    if (!isServiceAllocationSubject(m.subject)) {
      m.ack();
      return;
    }
    let allocation: AllocationDelivery["allocation"];
    try {
      allocation = decodeAllocationMessage(m.subject, m.data).data;
    } catch (err) {
      if (!(err instanceof ContractViolation)) throw err;
      await this.deadLetter(m, err);
      return;
    }
    const disposition = await handle({ allocation, seq: m.seq, publishedAtMs: m.info.timestampNanos / 1e6 });
    if (disposition === "done") m.ack();
    else if (disposition === "backoff") m.nak(backoffMs(m.info.deliveryCount));
    else m.nak();
  }

  private async deadLetter(m: JsMsg, err: ContractViolation): Promise<void> {
    const { js, replica, metrics, log } = this.opts;
    log.warn({ subject: m.subject, seq: m.seq, reason: err.reason, err: err.message }, "invalid allocation dead-lettered");
    metrics.deadletters.inc();
    await publishDeadLetter(js, "status-reporter", replica, { subject: m.subject, data: m.data, seq: m.seq }, err.reason, err.message).catch(
      (e: unknown) => log.warn({ err: describeError(e) }, "dead letter not published"),
    );
    m.term();
  }
}
