import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { backoffMs, type ConsumerMetrics, delay, describeError, errorDetails, type Logger } from "@sharedlb/runtime";

export interface StreamFollowerOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  /** Applies one message; throwing means the view could not apply it. */
  handle: (m: JsMsg) => void;
  metrics: ConsumerMetrics;
  log: Logger;
}

/** A pull that brings nothing for this long is renewed: bounds how long a dead subscription goes unnoticed. */
const PULL_EXPIRES_MS = 10_000;

/**
 * Follows one last-value stream from its first message with an ordered (ephemeral,
 * unacknowledged) consumer: every replica reads everything, nothing is shared.
 *
 * "Caught up" means every message the stream held when this follower last (re)subscribed
 * has been handled: it is false at start, from a NATS disconnect until the stream has been
 * read again after the reconnect, and the gauge `sharedlb_consumer_pending_messages` says
 * how far behind it is. A message the view cannot apply keeps the follower unhealthy
 * until a later message for the same subject applies; it is never silently skipped.
 *
 * NATS 2.9 cannot filter one consumer on several subjects, hence one follower per stream.
 */
export class StreamFollower {
  readonly stream: string;
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private lastSeq = 0;
  private caught = false;
  private connected = true;
  private pending = 0;
  private readonly caughtUpWaiters: (() => void)[] = [];
  private readonly unapplied = new Map<string, { seq: number; error: string }>();

  constructor(private readonly o: StreamFollowerOptions) {
    this.stream = o.stream;
  }

  get caughtUp(): boolean {
    return this.caught;
  }

  /** Every message handled so far was applied, or superseded by one that was. */
  get applied(): boolean {
    return this.unapplied.size === 0;
  }

  /** Why this follower is not caught up, for /readyz. */
  lagDetail(): string | undefined {
    if (this.caught) return undefined;
    if (!this.connected) return `${this.stream}: disconnected from NATS`;
    return `${this.stream}: catching up, ${this.pending} messages behind`;
  }

  /** Which messages the view could not apply, for /readyz. */
  applyDetail(): string | undefined {
    if (this.unapplied.size === 0) return undefined;
    const [subject, first] = this.unapplied.entries().next().value ?? ["", { seq: 0, error: "" }];
    const more = this.unapplied.size > 1 ? ` (and ${this.unapplied.size - 1} more)` : "";
    return `${this.stream}: ${subject} seq ${first.seq} not applied: ${first.error}${more}`;
  }

  /** Resolves once the replay is complete. */
  whenCaughtUp(): Promise<void> {
    if (this.caught) return Promise.resolve();
    return new Promise((resolve) => this.caughtUpWaiters.push(resolve));
  }

  start(): void {
    this.running = this.loop();
    void this.followConnection();
  }

  private setPending(n: number): void {
    this.pending = n;
    this.o.metrics.pending.set({ consumer: this.stream }, n);
  }

  private markCaughtUp(): void {
    if (this.caught) return;
    this.caught = true;
    this.setPending(0);
    this.o.log.info({ stream: this.stream, seq: this.lastSeq }, "stream replayed");
    for (const w of this.caughtUpWaiters.splice(0)) w();
  }

  /**
   * After a disconnect the view may be stale and the pull subscription dead (a restarted
   * server forgot it): not caught up until the stream has been read again from the last
   * message handled, which starts at once on reconnect instead of after missed heartbeats.
   */
  private async followConnection(): Promise<void> {
    for await (const s of this.o.nc.status()) {
      if (this.stopped) break;
      if (s.type === "disconnect") {
        this.connected = false;
        if (this.caught)
          this.o.log.warn({ stream: this.stream, seq: this.lastSeq }, "disconnected from NATS: not ready until caught up again");
        this.caught = false;
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.caught = false;
        this.o.log.info({ stream: this.stream, seq: this.lastSeq }, "reconnected to NATS: catching up");
        this.messages?.stop();
      }
    }
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const info = await this.o.jsm.streams.info(this.stream);
        if (info.state.messages === 0 || info.state.last_seq <= this.lastSeq) this.markCaughtUp();
        else if (!this.caught) this.setPending(Math.min(info.state.messages, info.state.last_seq - this.lastSeq));
        // Resume after the last message handled; the ordered consumer itself recovers from
        // gaps and missed heartbeats.
        const opts: Partial<OrderedConsumerOptions> =
          this.lastSeq > 0
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }
            : { deliver_policy: DeliverPolicy.All };
        const consumer = await this.o.js.consumers.get(this.stream, opts);
        const messages = await consumer.consume({ expires: PULL_EXPIRES_MS });
        this.messages = messages;
        attempt = 0;
        if (!this.caught) void this.watchForEmptyTail(consumer, messages);
        for await (const m of messages) {
          this.lastSeq = m.seq;
          this.apply(m);
          if (!this.caught) {
            if (m.info.pending === 0) this.markCaughtUp();
            else this.setPending(m.info.pending);
          }
        }
      } catch (err) {
        if (this.stopped) break;
        this.o.log.warn({ stream: this.stream, err: describeError(err) }, "stream consumer failed, retrying");
      }
      if (!this.stopped) await delay(backoffMs(attempt));
    }
  }

  private apply(m: JsMsg): void {
    try {
      this.o.handle(m);
    } catch (err) {
      const first = this.unapplied.size === 0;
      this.unapplied.set(m.subject, { seq: m.seq, error: describeError(err) });
      this.o.metrics.messages.inc({ consumer: this.stream, outcome: "failed" });
      this.o.log.error(
        { stream: this.stream, seq: m.seq, subject: m.subject, err: errorDetails(err) },
        first ? "message not applied: this replica is not ready until a later message for the subject applies" : "message not applied",
      );
      return;
    }
    if (this.unapplied.delete(m.subject) && this.unapplied.size === 0) {
      this.o.log.info({ stream: this.stream, seq: m.seq, subject: m.subject }, "every message applied again");
    }
  }

  /**
   * If the messages that existed at start were purged before they reached us (the
   * allocator purges old tombstones), no message will ever say "pending 0": ask the
   * consumer instead.
   */
  private async watchForEmptyTail(
    consumer: { info(cached?: boolean): Promise<{ num_pending: number; delivered: { stream_seq: number } }> },
    messages: ConsumerMessages,
  ): Promise<void> {
    while (!this.caught && !this.stopped && this.messages === messages) {
      await delay(500);
      try {
        const ci = await consumer.info(false);
        if (ci.num_pending === 0 && ci.delivered.stream_seq <= this.lastSeq) this.markCaughtUp();
        else if (!this.caught) this.setPending(ci.num_pending);
      } catch {
        // The main loop deals with a broken consumer.
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close().catch(() => undefined);
    await this.running;
  }
}
