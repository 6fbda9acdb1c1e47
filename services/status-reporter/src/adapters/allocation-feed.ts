import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { type Allocation, decodeAllocationMessage, isServiceAllocationSubject, STREAM_NAMES } from "@sharedlb/contracts";
import {
  type ConsumerMetrics,
  ContractPipeline,
  type DeadLetterSink,
  describeError,
  DurableConsumer,
  type HandleResult,
  type Logger,
} from "@sharedlb/runtime";
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
  /** Where invalid or undeliverable allocation messages go. */
  deadLetters: DeadLetterSink;
  consumerMetrics: ConsumerMetrics;
  /** Deliveries after which an allocation whose handling keeps failing is dead-lettered. */
  maxDeliveries: number;
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
    const { js, cluster, concurrency, log, metrics } = this.opts;
    const pipeline = new ContractPipeline<Allocation | undefined>({
      consumer: consumerName(cluster),
      // L7 allocations share the cluster's filter; the L7 feed follows them on its own consumer: acked here.
      decode: (subject, data) => (isServiceAllocationSubject(subject) ? decodeAllocationMessage(subject, data).data : undefined),
      handle: async (allocation, m) =>
        allocation === undefined ? undefined : toResult(await handle({ allocation, seq: m.seq, publishedAtMs: m.info.timestampNanos / 1e6 })),
      deadLetters: this.opts.deadLetters,
      metrics: this.opts.consumerMetrics,
      log,
      maxDeliveries: this.opts.maxDeliveries,
      onOutcome: (o) => {
        if (o === "deadlettered" || o === "exhausted") metrics.deadletters.inc();
      },
    });
    const consumer = new DurableConsumer(js, STREAM_NAMES.allocations, consumerName(cluster), pipeline.process, log, concurrency);
    consumer.start();
    return consumer;
  }
}

function toResult(d: Disposition): HandleResult {
  if (d === "done") return undefined;
  // "retry": while stopping, the next leader gets it at once; "backoff": the API server is
  // refusing for a transient reason, retried for as long as that lasts.
  return d === "retry" ? { retryLater: "Stopping", delayMs: 0 } : { retryLater: "ApiServerUnavailable" };
}
