import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { filters, STREAM_NAMES } from "@sharedlb/contracts";
import { backoffMs, delay, describeError, KeyedQueue, type Logger } from "@sharedlb/runtime";

export const CONSUMER_NAME = "allocator";

/** The durable consumer all allocator replicas share; work spreads across them. */
export async function ensureResourceConsumer(jsm: JetStreamManager, ackWaitMs: number): Promise<void> {
  const config = {
    durable_name: CONSUMER_NAME,
    filter_subject: filters.services,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: 20_000,
    max_deliver: -1,
  };
  try {
    await jsm.consumers.add(STREAM_NAMES.resources, config);
  } catch (err) {
    const info = await jsm.consumers.info(STREAM_NAMES.resources, CONSUMER_NAME).catch(() => undefined);
    if (!info) throw err;
    if (info.config.filter_subject !== config.filter_subject) {
      throw new Error(`consumer ${CONSUMER_NAME} on ${STREAM_NAMES.resources} filters "${info.config.filter_subject}", expected "${config.filter_subject}"`);
    }
  }
}

/**
 * Pulls resource events and hands them to `handle`, concurrently across Services and in
 * order within one Service. Recreates the subscription when heartbeats go missing.
 */
export class ResourceConsumer {
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private readonly queue: KeyedQueue;
  private running: Promise<void> | undefined;
  ready = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly handle: (m: JsMsg) => Promise<void>,
    private readonly log: Logger,
    private readonly concurrency: number,
  ) {
    this.queue = new KeyedQueue(concurrency);
  }

  start(): void {
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const consumer = await this.js.consumers.get(STREAM_NAMES.resources, CONSUMER_NAME);
        const messages = await consumer.consume({ max_messages: Math.min(this.concurrency, 1000) });
        this.messages = messages;
        this.ready = true;
        attempt = 0;
        void (async () => {
          for await (const s of messages.status()) {
            if (s.type === "heartbeats_missed") {
              this.log.warn({ count: s.count }, "consumer heartbeats missed, resubscribing");
              messages.stop();
            }
          }
        })();
        for await (const m of messages) {
          await this.queue.push(m.subject, () => this.handle(m));
        }
      } catch (err) {
        if (this.stopped) break;
        this.ready = false;
        this.log.warn({ err: describeError(err) }, "consumer failed, retrying");
      }
      if (!this.stopped) await delay(backoffMs(attempt));
    }
  }

  /** Stops pulling, then waits for every message in hand to be handled and acked. */
  async drain(): Promise<void> {
    this.stopped = true;
    this.ready = false;
    this.messages?.stop();
    await this.queue.idle();
    await this.running;
  }
}
