/**
 * Runs tasks concurrently across keys and strictly in order within one key, with a bound
 * on how many run at once. Work for one Service stays ordered while different Services
 * proceed in parallel. A task that throws is reported to `onError` (never swallowed) and
 * does not stop the tasks queued after it.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private running = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly onError: (key: string, err: unknown) => void,
  ) {}

  get size(): number {
    return this.tails.size;
  }

  /** Resolves when the task has been queued (waits while the queue is at capacity). */
  async push(key: string, task: () => Promise<void>): Promise<void> {
    while (this.running >= this.concurrency) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    this.running++;
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(task).catch((err: unknown) => this.report(key, err)).finally(() => {
      this.running--;
      this.waiters.shift()?.();
      if (this.tails.get(key) === next) this.tails.delete(key);
    });
    this.tails.set(key, next);
  }

  private report(key: string, err: unknown): void {
    try {
      this.onError(key, err);
    } catch {
      // A failing reporter must not break the chain of this key's tasks.
    }
  }

  /** Resolves when everything queued so far has finished. */
  async idle(): Promise<void> {
    while (this.tails.size > 0) await Promise.all([...this.tails.values()]);
  }
}
