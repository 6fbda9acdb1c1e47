import {
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import { backoffMs, delay, describeError, type Logger } from "@sharedlb/runtime";

/**
 * Follows one last-value stream from its first message with an ordered (ephemeral,
 * unacknowledged) consumer: every replica reads everything, nothing is shared. Reports
 * "caught up" once it has handled every message that existed when it started, which is
 * the current state of the stream.
 *
 * NATS 2.9 cannot filter one consumer on several subjects, hence one follower per stream.
 */
export class StreamFollower {
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private lastSeq = 0;
  private caught = false;
  private readonly caughtUpWaiters: (() => void)[] = [];

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    private readonly handle: (m: JsMsg) => void,
    private readonly log: Logger,
  ) {}

  get caughtUp(): boolean {
    return this.caught;
  }

  /** Resolves once the replay is complete. */
  whenCaughtUp(): Promise<void> {
    if (this.caught) return Promise.resolve();
    return new Promise((resolve) => this.caughtUpWaiters.push(resolve));
  }

  start(): void {
    this.running = this.loop();
  }

  private markCaughtUp(): void {
    if (this.caught) return;
    this.caught = true;
    this.log.info({ stream: this.stream, seq: this.lastSeq }, "stream replayed");
    for (const w of this.caughtUpWaiters.splice(0)) w();
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const info = await this.jsm.streams.info(this.stream);
        if (info.state.messages === 0 || info.state.last_seq <= this.lastSeq) this.markCaughtUp();
        // After an error, resume after the last message handled; the ordered consumer
        // itself already recovers from gaps and missed heartbeats.
        const opts: Partial<OrderedConsumerOptions> =
          this.lastSeq > 0
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }
            : { deliver_policy: DeliverPolicy.All };
        const consumer = await this.js.consumers.get(this.stream, opts);
        const messages = await consumer.consume();
        this.messages = messages;
        attempt = 0;
        if (!this.caught) void this.watchForEmptyTail(consumer);
        for await (const m of messages) {
          this.lastSeq = m.seq;
          try {
            this.handle(m);
          } catch (err) {
            this.log.error({ stream: this.stream, seq: m.seq, subject: m.subject, err: describeError(err) }, "message handler failed");
          }
          if (!this.caught && m.info.pending === 0) this.markCaughtUp();
        }
      } catch (err) {
        if (this.stopped) break;
        this.log.warn({ stream: this.stream, err: describeError(err) }, "stream consumer failed, retrying");
      }
      if (!this.stopped) await delay(backoffMs(attempt));
    }
  }

  /**
   * If the messages that existed at start were purged before they reached us (the
   * allocator purges old tombstones), no message will ever say "pending 0": ask the
   * consumer instead.
   */
  private async watchForEmptyTail(consumer: {
    info(cached?: boolean): Promise<{ num_pending: number; delivered: { stream_seq: number } }>;
  }): Promise<void> {
    while (!this.caught && !this.stopped) {
      await delay(500);
      try {
        const ci = await consumer.info(false);
        if (ci.num_pending === 0 && ci.delivered.stream_seq <= this.lastSeq) this.markCaughtUp();
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
