import { describeError, type Logger } from "@sharedlb/runtime";
import { isFamilyOwner } from "../domain/dual-stack.js";
import { isL7Owner } from "../domain/l7-owner.js";
import type { AllocatorMetrics } from "../metrics.js";
import type { Allocator } from "./allocator.js";
import type { SlotTableImporter } from "./importer.js";
import type { L7Allocator } from "./l7-allocator.js";
import { OwnerPublisher } from "./owner-publisher.js";
import type { L7AllocationPublisher, L7SlotTable } from "./l7-ports.js";
import type { AllocationPublisher, SlotTableMaintenance, StreamPurger } from "./ports.js";

export interface JanitorOptions {
  slots: SlotTableMaintenance;
  allocator: Pick<Allocator, "retry">;
  publisher: AllocationPublisher;
  /** Gateways and Ingresses: their records, retries and publishing (owners with a kind part). */
  l7: { slots: Pick<L7SlotTable, "record">; allocator: Pick<L7Allocator, "retry">; publisher: L7AllocationPublisher };
  importer: Pick<SlotTableImporter, "ensure">;
  purger: StreamPurger;
  metrics: AllocatorMetrics;
  log: Logger;
  intervalMs: number;
  purgeAfterMs: number;
  replica: string;
}

/**
 * Periodic work that no single event triggers, run by one replica at a time (a Redis
 * lease): free quarantined slots and hostname claims, retry waiting Services, Gateways and
 * Ingresses when capacity moved, publish what a crashed replica committed but never
 * published, purge old tombstones.
 */
export class Janitor {
  private timer: NodeJS.Timeout | undefined;
  private lastEpoch = -1;
  private lastRetryAt = 0;
  private lastPurgeAt = 0;
  private busy: Promise<void> | undefined;

  private readonly owners: OwnerPublisher;

  constructor(private readonly opts: JanitorOptions) {
    this.owners = new OwnerPublisher({ slots: opts.slots, publisher: opts.publisher, l7: opts.l7 });
  }

  start(): void {
    this.timer = setInterval(() => {
      this.busy ??= this.tick()
        .catch((err: unknown) => this.opts.log.warn({ err: describeError(err) }, "janitor pass failed"))
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
    const { slots, metrics, intervalMs, replica } = this.opts;
    if (!(await slots.isReady())) {
      await this.opts.importer.ensure();
      return;
    }
    if (!(await slots.holdLease("janitor", replica, Math.max(3 * intervalMs, 2000)))) return;
    const freed = await slots.expireQuarantine(now);
    if (freed > 0) metrics.quarantineFreed.inc(freed);

    const epoch = await slots.epoch();
    if (epoch !== this.lastEpoch || now - this.lastRetryAt > 10_000) {
      this.lastEpoch = epoch;
      this.lastRetryAt = now;
      const waiting = await slots.waiting(1000);
      metrics.waiting.set(waiting.length);
      for (const owner of waiting) await (isL7Owner(owner) ? this.opts.l7.allocator.retry(owner) : this.opts.allocator.retry(owner));
    }

    for (const owner of await slots.unpublished(now - 2000, 500)) await this.owners.publish(owner);
    await this.owners.finishAbandoned(slots, now - 2000, 500);

    if (now - this.lastPurgeAt > Math.min(30_000, this.opts.purgeAfterMs)) {
      this.lastPurgeAt = now;
      await this.purge(now);
    }
  }

  /** Tombstones and Released allocations older than the purge delay leave the streams. */
  private async purge(now: number): Promise<void> {
    const { slots, purger } = this.opts;
    for (const owner of await slots.releasedBefore(now - this.opts.purgeAfterMs, 500)) {
      const rec = await (isL7Owner(owner) ? this.opts.l7.slots.record(owner) : slots.record(owner));
      // A dual-stack Service's second-family record: the Service's own record purges the streams.
      if (rec?.state !== "Released" || isFamilyOwner(owner)) {
        await slots.forget(owner, rec?.version ?? 0);
        continue;
      }
      await purger.purgeResource(owner, rec.seq);
      if (rec.allocSeq > 0) await purger.purgeAllocation(owner, rec.allocSeq);
      await slots.forget(owner, rec.version);
    }
  }
}
