import type { JetStreamManager } from "@nats-io/jetstream";
import { parseObjectKey, STREAM_NAMES, subjects } from "@sharedlb/contracts";
import { describeError, type Logger } from "@sharedlb/runtime";
import type { AllocationPublisher } from "./adapters/publisher.js";
import type { SlotStore } from "./adapters/slot-store.js";
import type { Allocator } from "./allocator.js";
import type { SlotTableImporter } from "./importer.js";
import type { AllocatorMetrics } from "./metrics.js";

export interface JanitorOptions {
  intervalMs: number;
  purgeAfterMs: number;
  replica: string;
}

/**
 * Periodic work that no single event triggers, run by one replica at a time (a Redis
 * lease): free quarantined slots, retry waiting Services when capacity moved, publish what
 * a crashed replica committed but never published, purge old tombstones.
 */
export class Janitor {
  private timer: NodeJS.Timeout | undefined;
  private lastEpoch = -1;
  private lastRetryAt = 0;
  private lastPurgeAt = 0;
  private busy: Promise<void> | undefined;

  constructor(
    private readonly store: SlotStore,
    private readonly allocator: Allocator,
    private readonly publisher: AllocationPublisher,
    private readonly importer: SlotTableImporter,
    private readonly jsm: JetStreamManager,
    private readonly metrics: AllocatorMetrics,
    private readonly log: Logger,
    private readonly opts: JanitorOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.busy ??= this.tick()
        .catch((err: unknown) => this.log.warn({ err: describeError(err) }, "janitor pass failed"))
        .finally(() => {
          this.busy = undefined;
        });
    }, this.opts.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
  }

  async tick(now = Date.now()): Promise<void> {
    if (!(await this.store.isReady())) {
      await this.importer.ensure();
      return;
    }
    if (!(await this.store.holdLease("janitor", this.opts.replica, Math.max(3 * this.opts.intervalMs, 2000)))) return;
    const freed = await this.store.expireQuarantine(now);
    if (freed > 0) this.metrics.quarantineFreed.inc(freed);

    const epoch = await this.store.epoch();
    if (epoch !== this.lastEpoch || now - this.lastRetryAt > 10_000) {
      this.lastEpoch = epoch;
      this.lastRetryAt = now;
      const waiting = await this.store.waiting(1000);
      this.metrics.waiting.set(waiting.length);
      for (const owner of waiting) await this.allocator.retry(owner);
    }

    for (const owner of await this.store.unpublished(now - 2000, 500)) {
      const rec = await this.store.record(owner);
      if (rec) await this.publisher.publish(rec);
    }

    if (now - this.lastPurgeAt > Math.min(30_000, this.opts.purgeAfterMs)) {
      this.lastPurgeAt = now;
      await this.purge(now);
    }
  }

  /** Tombstones and Released allocations older than the purge delay leave the streams. */
  private async purge(now: number): Promise<void> {
    for (const owner of await this.store.releasedBefore(now - this.opts.purgeAfterMs, 500)) {
      const rec = await this.store.record(owner);
      if (rec?.state !== "Released") {
        await this.store.forget(owner, rec?.version ?? 0);
        continue;
      }
      const { cluster, namespace, name } = parseObjectKey(owner);
      // `seq` bounds the purge: a newer message on the subject (a re-created Service) stays.
      await this.jsm.streams.purge(STREAM_NAMES.resources, { filter: subjects.service(cluster, namespace, name), seq: rec.seq + 1 });
      if (rec.allocSeq > 0) {
        await this.jsm.streams.purge(STREAM_NAMES.allocations, { filter: subjects.allocation(cluster, namespace, name), seq: rec.allocSeq + 1 });
      }
      await this.store.forget(owner, rec.version);
    }
  }
}
