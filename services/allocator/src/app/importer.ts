import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import {
  type Allocation,
  ContractViolation,
  decodeAllocationMessage,
  decodeResourceMessage,
  filters,
  objectKey,
  type ServiceResource,
  STREAM_NAMES,
} from "@sharedlb/contracts";
import { backoffMs, delay, describeError, type Logger, readLastValues } from "@sharedlb/runtime";
import type { SlotStore } from "./adapters/slot-store.js";

/**
 * Rebuilds the slot table from LB_ALLOCATIONS when Redis comes back empty, before any new
 * claim: every allocator that ever lost its state on restart double-allocated (MetalLB,
 * Cilium, KubeLB). One replica imports under a lease; the others wait for it.
 */
export class SlotTableImporter {
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: SlotStore,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: Logger,
    private readonly replica: string,
  ) {}

  /** Resolves once the slot table is complete. Single-flight per process. */
  ensure(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (await this.store.isReady()) return;
        if (await this.store.holdLease("import", this.replica, 120_000)) {
          try {
            if (await this.store.isReady()) return;
            await this.importAll();
            await this.store.markReady();
            return;
          } finally {
            await this.store.releaseLease("import", this.replica);
          }
        }
      } catch (err) {
        this.log.warn({ err: describeError(err) }, "slot table import failed, retrying");
      }
      await delay(backoffMs(attempt, 100, 2000));
    }
  }

  private async importAll(): Promise<void> {
    const started = Date.now();
    const resources = await readLastValues<{ seq: number; svc: ServiceResource | null }>(
      this.js,
      this.jsm,
      STREAM_NAMES.resources,
      (subject, data, seq) => {
        try {
          const m = decodeResourceMessage(subject, data);
          const { cluster, namespace, name } = m.subject;
          return [objectKey(cluster, namespace, name), { seq, svc: m.event.type === "io.sharedlb.service.v1" ? m.event.data : null }];
        } catch (err) {
          if (err instanceof ContractViolation) return undefined;
          throw err;
        }
      },
      filters.services,
    );
    const allocations = await readLastValues<{ seq: number; a: Allocation }>(this.js, this.jsm, STREAM_NAMES.allocations, (subject, data, seq) => {
      try {
        const e = decodeAllocationMessage(subject, data);
        return [objectKey(e.data.cluster, e.data.namespace, e.data.name), { seq, a: e.data }];
      } catch (err) {
        if (err instanceof ContractViolation) return undefined;
        throw err;
      }
    });
    const counts: Record<string, number> = {};
    const now = Date.now();
    // Allocated first: live slots go back to their owners before anything waits for them.
    const ordered = [...allocations].sort(([, x], [, y]) => Number(y.a.state === "Allocated") - Number(x.a.state === "Allocated"));
    for (const [owner, { seq, a }] of ordered) {
      const state = await this.store.importAllocation({
        owner,
        cluster: a.cluster,
        namespace: a.namespace,
        name: a.name,
        uid: a.uid,
        state: a.state,
        pool: a.pool,
        ip: a.ip,
        ports: a.ports,
        reason: a.reason,
        message: a.message,
        seq: a.resourceSequence,
        resourceSequence: a.resourceSequence,
        version: a.allocationVersion ?? 0,
        allocSeq: seq,
        resource: resources.get(owner)?.svc ?? null,
        now,
      });
      counts[state] = (counts[state] ?? 0) + 1;
    }
    this.log.info({ ms: Date.now() - started, imported: counts }, "slot table re-imported from LB_ALLOCATIONS");
  }
}
