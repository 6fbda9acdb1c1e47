/** How long a rebuild may wait for the rest of a burst. */
export interface RebuildWindow {
  /** Rebuild once no change arrived for this long and no stream has messages known to be on the way. */
  readonly quietMs: number;
  /** Never later than this after the first change not yet built, whatever keeps arriving. */
  readonly maxDelayMs: number;
}

export const DEFAULT_REBUILD_WINDOW: RebuildWindow = Object.freeze({ quietMs: 10, maxDelayMs: 100 });

/** Why a scheduled rebuild ran: the burst was over, or the first change had waited the longest it may. */
export type RebuildTrigger = "quiet" | "max_delay";

/**
 * Decides when the changes applied so far are built. A burst reaches the gateway as many
 * messages over several NATS deliveries (pull batches, two streams), so "everything in
 * one turn of the event loop" splits it: a burst of 100 HTTPRoute edits became two
 * rebuilds, so two responses per stream. Each message tells how many more its stream
 * already holds for this consumer (`backlogged`); while any does, the rest of the burst
 * is known to be coming. Once none does, a short quiet window covers the messages still
 * between the publisher and the stream. `maxDelayMs` bounds the wait of the first change
 * when changes never stop.
 *
 * The check after a timer fires runs on setImmediate, after the event loop's poll phase:
 * a process that was descheduled past the deadline reads the messages that arrived
 * meanwhile before deciding the burst is over (timers run before I/O in a loop turn).
 */
export class RebuildScheduler {
  private firstAt: number | undefined;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private check: NodeJS.Immediate | undefined;
  private readonly backlog = new Map<string, number>();

  constructor(
    private readonly window: RebuildWindow,
    private readonly run: (trigger: RebuildTrigger, waitedMs: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A change was applied; it is built within the window. */
  changed(): void {
    const t = this.now();
    this.firstAt ??= t;
    this.lastAt = t;
    if (!this.timer && !this.check) this.arm();
  }

  /** `source` (a stream) holds `pending` more messages for this consumer, as its last delivery said. */
  backlogged(source: string, pending: number): void {
    if (pending > 0) {
      this.backlog.set(source, pending);
      return;
    }
    // A drained stream may end the wait: a timer armed for the max delay comes forward.
    if (this.backlog.delete(source) && this.backlog.size === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.arm();
    }
  }

  /** The changes were built by other means (the replay, a direct rebuild): nothing is due. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.check) clearImmediate(this.check);
    this.timer = undefined;
    this.check = undefined;
    this.firstAt = undefined;
    // A backlog noted before is refreshed by the stream's next message; one left by a
    // stream that went quiet (a lost connection) must not hold every later rebuild.
    this.backlog.clear();
  }

  private arm(): void {
    if (this.firstAt === undefined) return;
    const latest = this.firstAt + this.window.maxDelayMs;
    const due = this.backlog.size > 0 ? latest : Math.min(this.lastAt + this.window.quietMs, latest);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.check = setImmediate(() => {
          this.check = undefined;
          this.decide();
        });
      },
      Math.max(0, due - this.now()),
    );
  }

  private decide(): void {
    if (this.firstAt === undefined) return;
    const t = this.now();
    const waited = t - this.firstAt;
    if (waited >= this.window.maxDelayMs) this.fire("max_delay", waited);
    else if (this.backlog.size === 0 && t - this.lastAt >= this.window.quietMs) this.fire("quiet", waited);
    else this.arm();
  }

  private fire(trigger: RebuildTrigger, waited: number): void {
    this.cancel();
    this.run(trigger, waited);
  }
}
