import { backoffMs } from "@sharedlb/runtime";

type Waiter<R> = { resolve: (r: R) => void; reject: (err: unknown) => void };

interface Pending<R> {
  /** Set when any add() asked for it since the last pass (e.g. "report this pass"). */
  marked: boolean;
  waiters: Waiter<R>[];
}

export interface WorkQueueOptions {
  concurrency: number;
  /** Retry backoff for `retryLater`: base and cap in ms. */
  retryBaseMs?: number;
  retryCapMs?: number;
}

/**
 * A controller work queue of keys, like client-go's: a key waiting to be processed is
 * held once however often it is added (a burst of informer events costs one pass), one key
 * is never processed twice at once, a key added while it is being processed gets one more
 * pass afterwards, and different keys run concurrently up to a bound.
 *
 * `add` resolves with the result of a pass that started after the call, so a caller that
 * must know the outcome (ack a message) can wait for it; informer handlers ignore it.
 */
export class WorkQueue<R> {
  private readonly pending = new Map<string, Pending<R>>();
  private readonly processing = new Set<string>();
  private ready: string[] = [];
  private head = 0;
  private running = 0;
  private stopped = false;
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly process: (key: string, marked: boolean) => Promise<R>,
    private readonly opts: WorkQueueOptions,
  ) {}

  /** Keys waiting or being processed. */
  get depth(): number {
    return this.pending.size + this.processing.size;
  }

  add(key: string, mark = false): Promise<R> {
    if (this.stopped) return Promise.reject(new WorkQueueStopped("work queue is stopped"));
    return new Promise<R>((resolve, reject) => {
      let p = this.pending.get(key);
      if (!p) {
        p = { marked: false, waiters: [] };
        this.pending.set(key, p);
        if (!this.processing.has(key)) this.ready.push(key);
      }
      p.marked ||= mark;
      p.waiters.push({ resolve, reject });
      this.pump();
    });
  }

  /** Adds the key without waiting for its result (informer handlers, resyncs). */
  enqueue(key: string): void {
    this.add(key).catch(() => undefined);
  }

  /** Adds the key again after a backoff that grows with its consecutive failures. */
  retryLater(key: string): void {
    if (this.stopped || this.timers.has(key)) return;
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const t = setTimeout(
      () => {
        this.timers.delete(key);
        if (!this.stopped) this.enqueue(key);
      },
      backoffMs(n, this.opts.retryBaseMs ?? 200, this.opts.retryCapMs ?? 30_000),
    );
    this.timers.set(key, t);
  }

  /** The key succeeded: its next failure starts the backoff from the beginning. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Resolves when nothing is waiting or running. */
  idle(): Promise<void> {
    if (this.depth === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Refuses new keys, drops scheduled retries and waits for the passes in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const [key, p] of this.pending) {
      if (this.processing.has(key)) continue;
      this.pending.delete(key);
      for (const w of p.waiters) w.reject(new WorkQueueStopped("work queue stopped before the key was processed"));
    }
    this.ready = [];
    this.head = 0;
    await this.idle();
  }

  private pump(): void {
    while (this.running < this.opts.concurrency && this.head < this.ready.length) {
      const key = this.ready[this.head++] as string;
      if (this.head > 1024 && this.head * 2 > this.ready.length) {
        this.ready = this.ready.slice(this.head);
        this.head = 0;
      }
      const p = this.pending.get(key);
      if (!p || this.processing.has(key)) continue;
      this.pending.delete(key);
      this.processing.add(key);
      this.running++;
      void this.run(key, p);
    }
  }

  private async run(key: string, p: Pending<R>): Promise<void> {
    try {
      const r = await this.process(key, p.marked);
      for (const w of p.waiters) w.resolve(r);
    } catch (err) {
      for (const w of p.waiters) w.reject(err);
    } finally {
      this.running--;
      this.processing.delete(key);
      if (this.pending.has(key) && !this.stopped) this.ready.push(key);
      else if (this.pending.has(key)) this.rejectPending(key);
      this.pump();
      if (this.depth === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private rejectPending(key: string): void {
    const p = this.pending.get(key);
    this.pending.delete(key);
    for (const w of p?.waiters ?? []) w.reject(new WorkQueueStopped("work queue stopped before the key was processed"));
  }
}

export class WorkQueueStopped extends Error {
  override readonly name = "WorkQueueStopped";
  readonly reason = "WorkQueueStopped";
}
