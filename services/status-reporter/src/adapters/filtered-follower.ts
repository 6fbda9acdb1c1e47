import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { backoffMs, type ConsumerMetrics, delay, describeError, errorDetails, type Logger, openFilteredConsumer } from "@sharedlb/runtime";

export interface FilteredFollowerOptions {
  js: JetStreamClient;
  stream: string;
  /** One subject filter: the tenant's NATS permissions allow only consumers filtered to its own cluster. */
  filter: string;
  /** The `consumer` label of sharedlb_consumer_messages_total (bounded: one per follower of a process). */
  name: string;
  /** Applies one message; rejecting means it was not applied. */
  handle: (m: JsMsg) => Promise<FollowedOutcome>;
  metrics: ConsumerMetrics;
  log: Logger;
}

/** How a message the handler took ended: applied, or dead-lettered because it breaks the contract. */
export type FollowedOutcome = "handled" | "deadlettered";

/** A message that breaks the contract whose dead letter could not be published: kept and retried, not skipped. */
export class DeadLetterNotPublished extends Error {
  readonly reason = "DeadLetterNotPublished";
  constructor(
    readonly subject: string,
    readonly violation: string,
    cause: unknown,
  ) {
    super(`dead letter for ${subject} (${violation}) not published: ${describeError(cause)}`, { cause });
    this.name = "DeadLetterNotPublished";
  }
}

interface Unapplied {
  message: JsMsg;
  error: string;
  attempt: number;
  retry: NodeJS.Timeout;
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
 *
 * A message that could not be applied cannot be nak'd here: it is kept as the subject's
 * unapplied message and applied again with backoff until it is, or until a later message
 * for the subject applies. While any is kept, `applyDetail()` names it (for /readyz): the
 * replica says it diverges instead of skipping silently.
 */
export class FilteredFollower {
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private lastSeq = 0;
  private caught = false;
  private readonly waiters: (() => void)[] = [];
  private readonly unapplied = new Map<string, Unapplied>();
  /** Tries of messages, new and retried, one at a time: a retry never races the subject's next message. */
  private tries: Promise<void> = Promise.resolve();

  constructor(private readonly o: FilteredFollowerOptions) {}

  get caughtUp(): boolean {
    return this.caught;
  }

  /** Which message could not be applied, or undefined when every one was (or was superseded). */
  applyDetail(): string | undefined {
    const first = this.unapplied.entries().next();
    if (first.done === true) return undefined;
    const [subject, u] = first.value;
    const more = this.unapplied.size > 1 ? ` (and ${this.unapplied.size - 1} more)` : "";
    return `${this.o.name}: ${subject} seq ${u.message.seq} not applied: ${u.error}${more}`;
  }

  whenCaughtUp(): Promise<void> {
    return this.caught ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unapplied.values()) clearTimeout(u.retry);
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
            await this.apply(m);
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

  private apply(m: JsMsg): Promise<void> {
    return this.serially(() => {
      const earlier = this.unapplied.get(m.subject);
      if (earlier !== undefined) clearTimeout(earlier.retry);
      return this.attempt(m, 0);
    });
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const next = this.tries.then(task);
    this.tries = next;
    return next;
  }

  /** One try of `m` (never throws). */
  private async attempt(m: JsMsg, attempt: number): Promise<void> {
    let outcome: FollowedOutcome;
    try {
      outcome = await this.o.handle(m);
    } catch (err) {
      if (this.stopped) return;
      const first = this.unapplied.size === 0;
      const retry = setTimeout(() => void this.retry(m), backoffMs(attempt));
      this.unapplied.set(m.subject, { message: m, error: describeError(err), attempt, retry });
      const failure = err instanceof DeadLetterNotPublished ? "deadletter_failed" : "failed";
      this.o.metrics.messages.inc({ consumer: this.o.name, outcome: failure });
      this.o.log.error(
        { consumer: this.o.name, stream: this.o.stream, subject: m.subject, seq: m.seq, attempt, err: errorDetails(err) },
        failure === "deadletter_failed"
          ? "dead letter not published; the message is kept and retried"
          : first
            ? "message not applied: not ready until it or a later message for the subject applies; retrying"
            : "message not applied; retrying",
      );
      return;
    }
    this.o.metrics.messages.inc({ consumer: this.o.name, outcome });
    if (this.unapplied.delete(m.subject) && this.unapplied.size === 0) {
      this.o.log.info({ consumer: this.o.name, subject: m.subject, seq: m.seq }, "every message applied again");
    }
  }

  /** Only while `m` is still the subject's kept message: a later one that applied supersedes it. */
  private retry(m: JsMsg): Promise<void> {
    return this.serially(async () => {
      const kept = this.unapplied.get(m.subject);
      if (this.stopped || kept?.message !== m) return;
      await this.attempt(m, kept.attempt + 1);
    });
  }
}
