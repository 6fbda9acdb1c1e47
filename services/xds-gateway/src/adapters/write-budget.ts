/** A grant of budget to one stream's response, held until the response is written. */
export interface BudgetGrant {
  readonly size: number;
  release(): void;
}

interface Held {
  readonly size: number;
  readonly holder: object;
  readonly since: number;
  stalled: boolean;
}

interface Waiting {
  readonly size: number;
  readonly holder: object;
  readonly grant: (g: BudgetGrant) => void;
}

export interface WriteBudgetOptions {
  /**
   * A response not written after this long, and after 8 times as long as responses
   * typically take to write (so a busy gateway does not mistake slow for stuck),
   * belongs to a stream that is not reading: it stops counting against the shared
   * budget (its bytes stay the stream's own, until it reads or is evicted), so it
   * cannot keep others waiting.
   */
  readonly stallAfterMs: number;
  readonly now?: () => number;
}

/**
 * Bounds the bytes of responses handed to gRPC and not yet written to a connection,
 * across all streams. A SotW change can mean a multi-megabyte response for every Envoy
 * at once; without a bound each of them would be buffered in full before the first one
 * drains. One response larger than the budget still goes out alone.
 *
 * Fair share: when streams wait, the one holding the fewest bytes goes first, so a
 * stream with nothing in flight (a new Envoy) is not queued behind streams that already
 * have responses on the wire. Responses that stay unwritten for `stallAfterMs` (their
 * client is not reading) are taken out of the shared count.
 */
export class WriteBudget {
  private used = 0;
  private stalledBytes = 0;
  private readonly held = new Set<Held>();
  private readonly byHolder = new Map<object, number>();
  private readonly waiting: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** Moving average of how long a response takes to be written. */
  private typicalWriteMs = 0;

  constructor(
    readonly capacity: number,
    private readonly options: WriteBudgetOptions = { stallAfterMs: 2_000 },
  ) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Bytes counted against the budget. */
  get inUse(): number {
    return this.used;
  }

  /** Bytes of responses whose clients are not reading (not counted in inUse). */
  get stalled(): number {
    return this.stalledBytes;
  }

  acquire(holder: object, size: number): Promise<BudgetGrant> {
    if (this.waiting.length === 0 && this.fits(size)) return Promise.resolve(this.grant(holder, size));
    return new Promise((resolve) => {
      this.waiting.push({ size, holder, grant: resolve });
      this.dispatch();
    });
  }

  /** Takes responses unwritten for too long out of the shared count, then grants what fits. */
  sweep(): void {
    const cutoff = this.now() - this.stallAfterMs();
    for (const h of this.held) {
      if (h.stalled || h.since > cutoff) continue;
      h.stalled = true;
      this.used -= h.size;
      this.stalledBytes += h.size;
    }
    this.dispatch();
  }

  private stallAfterMs(): number {
    return Math.max(this.options.stallAfterMs, 8 * this.typicalWriteMs);
  }

  private fits(size: number): boolean {
    return this.used === 0 || this.used + size <= this.capacity;
  }

  private grant(holder: object, size: number): BudgetGrant {
    const h: Held = { size, holder, since: this.now(), stalled: false };
    this.held.add(h);
    this.used += size;
    this.byHolder.set(holder, (this.byHolder.get(holder) ?? 0) + size);
    let released = false;
    return {
      size,
      release: () => {
        if (released) return;
        released = true;
        this.held.delete(h);
        if (h.stalled) this.stalledBytes -= size;
        else {
          this.used -= size;
          this.typicalWriteMs += (this.now() - h.since - this.typicalWriteMs) / 16;
        }
        const left = (this.byHolder.get(holder) ?? 0) - size;
        if (left > 0) this.byHolder.set(holder, left);
        else this.byHolder.delete(holder);
        this.dispatch();
      },
    };
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      // Least-held first; among equals, first come.
      let best = 0;
      for (let i = 1; i < this.waiting.length; i++) {
        const w = this.waiting[i];
        const b = this.waiting[best];
        if (w && b && (this.byHolder.get(w.holder) ?? 0) < (this.byHolder.get(b.holder) ?? 0)) best = i;
      }
      const next = this.waiting[best];
      if (!next || !this.fits(next.size)) break;
      this.waiting.splice(best, 1);
      next.grant(this.grant(next.holder, next.size));
    }
    this.arm();
  }

  /** While anyone waits, look again when the oldest response would count as stalled. */
  private arm(): void {
    if (this.waiting.length === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    if (this.timer) return;
    let oldest = Number.POSITIVE_INFINITY;
    for (const h of this.held) if (!h.stalled && h.since < oldest) oldest = h.since;
    if (oldest === Number.POSITIVE_INFINITY) return;
    const wait = Math.max(10, oldest + this.stallAfterMs() - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sweep();
    }, wait);
    this.timer.unref();
  }
}
