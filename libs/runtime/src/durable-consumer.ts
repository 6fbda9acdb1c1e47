import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { backoffMs, delay } from "./backoff.js";
import { describeError, errorDetails } from "./errors.js";
import { KeyedQueue } from "./keyed-queue.js";
import type { Logger } from "./logging.js";

/**
 * Pulls from an existing durable consumer and hands messages to `handle`, concurrently
 * across subjects and in order within one subject (one object). Resubscribes with backoff
 * when the subscription fails or heartbeats go missing. `handle` acks, naks or terms.
 */
export class DurableConsumer {
  private messages: ConsumerMessages | undefined;
  /** Messages pulled and not yet settled, with when they came in hand or last got a progress ack. */
  private readonly inHand = new Map<JsMsg, number>();
  private progressTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly queue: KeyedQueue;
  private running: Promise<void> | undefined;
  ready = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly name: string,
    private readonly handle: (m: JsMsg) => Promise<void>,
    private readonly log: Logger,
    private readonly concurrency: number,
    /**
     * With it, every message pulled and not yet settled (handled or still queued behind
     * others) for at least half of this gets a progress ack (`working()`) this often, so
     * the consumer's ack_wait can be short: a replica that dies (kill -9) has its messages
     * redelivered after one short ack_wait instead of a long one sized for the slowest
     * handling. A message settled sooner never needs one (see dueForProgress).
     */
    private readonly progressEveryMs?: number,
  ) {
    // ContractPipeline.process never throws; anything else that does is logged, not lost.
    this.queue = new KeyedQueue(concurrency, (subject, err) =>
      log.error({ consumer: name, subject, err: errorDetails(err) }, "message handler threw; the message will be redelivered after ack_wait"),
    );
  }

  start(): void {
    this.running = this.loop();
    const every = this.progressEveryMs;
    if (every !== undefined) {
      this.progressTimer = setInterval(() => {
        const now = performance.now();
        for (const m of dueForProgress(this.inHand, now, every)) {
          try {
            m.working();
            this.inHand.set(m, now);
          } catch {
            // Disconnected: the message is redelivered after ack_wait, as for a dead replica.
          }
        }
      }, every);
      this.progressTimer.unref();
    }
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const consumer = await this.js.consumers.get(this.stream, this.name);
        const messages = await consumer.consume({ max_messages: Math.min(this.concurrency, 1000) });
        this.messages = messages;
        this.ready = true;
        attempt = 0;
        void (async () => {
          for await (const s of messages.status()) {
            if (s.type === "heartbeats_missed") {
              this.log.warn({ consumer: this.name, count: s.count }, "consumer heartbeats missed, resubscribing");
              messages.stop();
            }
          }
        })();
        for await (const m of messages) {
          this.inHand.set(m, performance.now());
          await this.queue.push(m.subject, () => this.handle(m).finally(() => this.inHand.delete(m)));
        }
      } catch (err) {
        if (this.stopped) break;
        this.ready = false;
        this.log.warn({ consumer: this.name, err: describeError(err) }, "consumer failed, retrying");
      }
      if (!this.stopped) await delay(backoffMs(attempt));
    }
  }

  /** Stops pulling, then waits for every message in hand to be handled. */
  async drain(): Promise<void> {
    this.stopped = true;
    this.ready = false;
    this.messages?.stop();
    await this.queue.idle();
    await this.running;
    clearInterval(this.progressTimer);
  }
}

/**
 * The messages of `inHand` (each with when it came in hand or last got a progress ack) due
 * one at `now`, with a tick every `everyMs`: those held at least half a tick. A message
 * skipped is at most 1.5 ticks old at the next one, well within an ack_wait of three; and in
 * a backlog, where hundreds of messages are in hand for a few hundred milliseconds each,
 * none of them needs one (every message in hand got one per tick: 460 a second at 3
 * allocator replicas, more NATS traffic than some of their work).
 */
export function dueForProgress<T>(inHand: ReadonlyMap<T, number>, now: number, everyMs: number): T[] {
  const due: T[] = [];
  for (const [m, since] of inHand) if (now - since >= everyMs / 2) due.push(m);
  return due;
}

/** A durable consumer exists under the name with another filter: never silently repurposed. */
export class ConsumerConfigConflict extends Error {
  override readonly name = "ConsumerConfigConflict";
  readonly reason = "ConsumerConfigConflict";
}

/**
 * Creates (or verifies) a durable pull consumer with explicit acks, replaying from the
 * start of the stream, redelivering without limit. Idempotent across replicas. Several
 * filter subjects (a list) need nats-server 2.10 or later.
 */
export async function ensureDurableConsumer(
  jsm: JetStreamManager,
  stream: string,
  name: string,
  filterSubject: string | readonly string[],
  ackWaitMs: number,
): Promise<void> {
  const filter = typeof filterSubject === "string" ? { filter_subject: filterSubject } : { filter_subjects: [...filterSubject] };
  const config = {
    durable_name: name,
    ...filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: 20_000,
    max_deliver: -1,
  };
  try {
    await jsm.consumers.add(stream, config);
  } catch (err) {
    const info = await jsm.consumers.info(stream, name).catch(() => undefined);
    if (!info) throw err;
    const want = typeof filterSubject === "string" ? filterSubject : [...filterSubject].sort().join(",");
    const have = info.config.filter_subjects?.length ? [...info.config.filter_subjects].sort().join(",") : (info.config.filter_subject ?? "");
    if (have !== want) {
      throw new ConsumerConfigConflict(`consumer ${name} on ${stream} filters "${have}", expected "${want}"`);
    }
    // A tunable, not a meaning: a consumer created with another ack_wait (an older release) follows.
    if (info.config.ack_wait !== config.ack_wait) await jsm.consumers.update(stream, name, { ack_wait: config.ack_wait });
  }
}
