import { backoffMs, delay, describeError, type Logger } from "@sharedlb/runtime";
import type { L7Allocation } from "@sharedlb/contracts";
import { familyOwner, secondSeq } from "../domain/dual-stack.js";
import { l7ImportOf } from "../domain/l7-import.js";
import { requestedFamilies, secondFamily } from "../domain/request.js";
import type { PublishedState, SlotTableImport } from "./ports.js";

const holdsClaims = (a: L7Allocation): boolean => a.listeners.some((l) => l.state === "Allocated");

export interface SlotTableImporterOptions {
  slots: SlotTableImport;
  published: PublishedState;
  log: Logger;
  replica: string;
  /** The pool an address belongs to (a dual-stack Service's second address is in another pool than `pool`). */
  poolOfIp?: (ip: string) => string | undefined;
  now?: () => number;
}

/**
 * Rebuilds the slot table from LB_ALLOCATIONS when Redis comes back empty, before any new
 * claim: every allocator that ever lost its state on restart double-allocated (MetalLB,
 * Cilium, KubeLB). One replica imports under a lease; the others wait for it.
 */
export class SlotTableImporter {
  private running: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: SlotTableImporterOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Resolves once the slot table is complete. Single-flight per process. */
  ensure(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    const { slots, replica, log } = this.opts;
    for (let attempt = 0; ; attempt++) {
      try {
        if (await slots.isReady()) return;
        if (await slots.holdLease("import", replica, 120_000)) {
          try {
            if (await slots.isReady()) return;
            await this.importAll();
            await slots.markReady();
            return;
          } finally {
            await slots.releaseLease("import", replica);
          }
        }
      } catch (err) {
        log.warn({ err: describeError(err) }, "slot table import failed, retrying");
      }
      await delay(backoffMs(attempt, 100, 2000));
    }
  }

  private async importAll(): Promise<void> {
    const started = this.now();
    const resources = await this.opts.published.resources();
    const allocations = await this.opts.published.allocations();
    const counts: Record<string, number> = {};
    const now = this.now();
    // Allocated first: live slots go back to their owners before anything waits for them.
    const ordered = [...allocations].sort(([, x], [, y]) => Number(y.allocation.state === "Allocated") - Number(x.allocation.state === "Allocated"));
    for (const [owner, { seq, allocation: a }] of ordered) {
      const resource = resources.get(owner)?.svc ?? null;
      const first = {
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
        resource,
        now,
      };
      const state = await this.opts.slots.importAllocation(first);
      counts[state] = (counts[state] ?? 0) + 1;
      // Dual-stack: the second address's slots come back under the family-qualified owner
      // (version 0, so the published version, the sum of both, stays). A second family that
      // was not served yet comes back waiting, to be retried.
      // Only beside a first family imported Allocated: a second family placed on other ports than the first's is never kept.
      if (state === "Allocated" && resource && requestedFamilies(resource).length === 2) {
        const ip = a.ips?.[1] ?? "";
        const pool = ip ? this.opts.poolOfIp?.(ip) : undefined;
        const second = pool
          ? { ...first, pool, ip, reason: "", message: "" }
          : { ...first, state: "Pending" as const, pool: "", ip: "", ports: [], reason: "PoolExhausted", message: "re-imported after Redis data loss; retrying" };
        const secondState = await this.opts.slots.importAllocation({ ...second, owner: familyOwner(owner, secondFamily(resource)), seq: secondSeq({ seq: first.seq, state }), version: 0 });
        counts[`second family ${secondState}`] = (counts[`second family ${secondState}`] ?? 0) + 1;
      }
    }
    // Then Gateways and Ingresses, those holding claims first; Services were put back first,
    // so an L7 claim never takes a live Service's slot.
    const l7Resources = await this.opts.published.l7Resources();
    const l7 = [...(await this.opts.published.l7Allocations())].sort(([, x], [, y]) => Number(holdsClaims(y.allocation)) - Number(holdsClaims(x.allocation)));
    const held = new Map<string, { cluster: string; hostname: string }[]>();
    for (const [owner, { seq, allocation }] of l7) {
      const state = await this.opts.slots.importL7(l7ImportOf(allocation, seq, l7Resources.get(owner) ?? "", held), now);
      counts[`l7 ${state}`] = (counts[`l7 ${state}`] ?? 0) + 1;
    }
    this.opts.log.info({ ms: this.now() - started, imported: counts }, "slot table re-imported from LB_ALLOCATIONS");
  }
}
