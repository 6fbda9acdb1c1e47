/**
 * Bounds the bytes of responses handed to gRPC and not yet written to a connection,
 * across all streams. A SotW change can mean a multi-megabyte response for every Envoy
 * at once; without a bound each of them would be buffered in full before the first one
 * drains. One response larger than the budget still goes out alone.
 */
export class WriteBudget {
  private used = 0;
  private readonly waiting: { size: number; grant: () => void }[] = [];

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  acquire(size: number): Promise<void> {
    if (this.waiting.length === 0 && (this.used === 0 || this.used + size <= this.capacity)) {
      this.used += size;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ size, grant: resolve }));
  }

  release(size: number): void {
    this.used -= size;
    while (this.waiting.length > 0) {
      const next = this.waiting[0];
      if (!next || (this.used !== 0 && this.used + next.size > this.capacity)) break;
      this.waiting.shift();
      this.used += next.size;
      next.grant();
    }
  }
}
