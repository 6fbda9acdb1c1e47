import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { backoffMs, delay, describeError, type Logger, openFilteredConsumer } from "@sharedlb/runtime";

export interface FilteredFollowerOptions {
  js: JetStreamClient;
  stream: string;
  /** One subject filter: the tenant's NATS permissions allow only consumers filtered to its own cluster. */
  filter: string;
  handle: (m: JsMsg) => void;
  log: Logger;
}

/**
 * A filtered replay without a message says nothing: with no message for this long after
 * the consumer starts, the replay is taken as complete.
 */
const QUIET_MS = 1_500;
const PULL_EXPIRES_MS = 10_000;

/**
 * Follows one filtered subject space of a stream with an ephemeral, unacked consumer: the
 * current values, then every new message. "Caught up" once the message with nothing
 * pending behind it was handled (or the filter had nothing); after a failure, or a gap in
 * the consumer's delivery sequence (a pull lost in a reconnect), it resumes after the last
 * message handled, as an ordered consumer would. Not nats.js's ordered consumer: that asks
 * STREAM.INFO first, which a tenant may not (docs/security.md).
 */
export class FilteredFollower {
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private lastSeq = 0;
  private caught = false;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly o: FilteredFollowerOptions) {}

  get caughtUp(): boolean {
    return this.caught;
  }

  whenCaughtUp(): Promise<void> {
    return this.caught ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.markCaughtUp();
    await this.messages?.close().catch(() => undefined);
    await this.running;
  }

  private markCaughtUp(): void {
    if (this.caught) return;
    this.caught = true;
    for (const w of this.waiters.splice(0)) w();
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        const jsm = await this.o.js.jetstreamManager(false);
        const start = this.lastSeq > 0 ? { from: "sequence" as const, seq: this.lastSeq + 1 } : { from: "all" as const };
        const { consumer } = await openFilteredConsumer(this.o.js, jsm, this.o.stream, this.o.filter, start);
        // A consumer gone (server restart, inactivity) ends the loop instead of pulling in vain.
        const messages = await consumer.consume({ expires: PULL_EXPIRES_MS, abort_on_missing_resource: true });
        this.messages = messages;
        attempt = 0;
        const quiet = setTimeout(() => {
          if (this.lastSeq === 0) this.markCaughtUp();
        }, QUIET_MS);
        try {
          let delivered = 0;
          for await (const m of messages) {
            if (m.info.deliverySequence !== ++delivered) break;
            this.lastSeq = m.seq;
            this.apply(m);
            if (m.info.pending === 0) this.markCaughtUp();
          }
        } finally {
          clearTimeout(quiet);
          await messages.close().catch(() => undefined);
          await consumer.delete().catch(() => undefined);
        }
      } catch (err) {
        if (this.stopped) break;
        this.o.log.warn({ stream: this.o.stream, filter: this.o.filter, err: describeError(err) }, "stream consumer failed, retrying");
      }
      if (!this.stopped) await delay(backoffMs(attempt));
    }
  }

  private apply(m: JsMsg): void {
    try {
      this.o.handle(m);
    } catch (err) {
      // The handler decodes and dead-letters bad messages itself; anything else is a bug to see, not a reason to stop.
      this.o.log.error({ stream: this.o.stream, subject: m.subject, seq: m.seq, err: describeError(err) }, "message not applied");
    }
  }
}
