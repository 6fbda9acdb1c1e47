import { type ResourceMessage, objectKey, type ServiceResource } from "@sharedlb/contracts";
import type { Logger } from "@sharedlb/runtime";
import type { AllocatorPolicy } from "../domain/pools.js";
import { planClaim } from "../domain/request.js";
import { recordResource } from "../domain/slot-record.js";
import type { AllocatorMetrics } from "../metrics.js";
import type { AllocationPublisher, ApplyMode, ApplyResult, SlotTable } from "./ports.js";

export interface AllocatorOptions {
  policy: AllocatorPolicy;
  slots: SlotTable;
  publisher: AllocationPublisher;
  metrics: AllocatorMetrics;
  log: Logger;
  now?: () => number;
}

/**
 * Turns resource events into allocations: plan (pure), claim atomically (the slot table),
 * publish. Safe to run on any number of replicas at once.
 */
export class Allocator {
  private readonly policy: AllocatorPolicy;
  private readonly store: SlotTable;
  private readonly publisher: AllocationPublisher;
  private readonly metrics: AllocatorMetrics;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(opts: AllocatorOptions) {
    this.policy = opts.policy;
    this.store = opts.slots;
    this.publisher = opts.publisher;
    this.metrics = opts.metrics;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
  }

  /** Applies one decoded `lb.resource.<c>.service.…` message with its stream sequence. */
  async handle(msg: ResourceMessage, seq: number): Promise<ApplyResult["outcome"]> {
    const { cluster, namespace, name } = msg.subject;
    const owner = objectKey(cluster, namespace, name);
    const base = { owner, cluster, namespace, name, seq, now: this.now(), releaseDelayMs: this.policy.releaseDelayMs };
    let change: ApplyMode;
    let uid: string;
    if (msg.event.type === "io.sharedlb.deleted.v1") {
      uid = msg.event.data.uid;
      change = { mode: "release" };
    } else if (msg.event.type === "io.sharedlb.service.v1") {
      const svc = msg.event.data;
      uid = svc.uid;
      change = this.changeFor(svc);
    } else {
      return "unchanged";
    }
    const res = await this.store.apply({ ...base, uid }, change);
    if (res.outcome === "staleIncarnation") {
      this.metrics.staleIncarnation.inc();
      this.log.warn({ service: owner, seq, deletedUid: uid, heldUid: res.record?.uid }, "deletion of an earlier object with the same name ignored");
    }
    await this.afterApply(res);
    return res.outcome;
  }

  /** Re-plans a Pending Service from its stored resource (capacity or quota freed up). */
  async retry(owner: string): Promise<ApplyResult["outcome"]> {
    const rec = await this.store.record(owner);
    const resource = rec ? recordResource(rec) : null;
    if (rec?.state !== "Pending" || !resource) return "unchanged";
    const res = await this.store.apply(
      {
        owner,
        cluster: rec.cluster,
        namespace: rec.namespace,
        name: rec.name,
        uid: rec.uid,
        seq: rec.seq,
        now: this.now(),
        releaseDelayMs: this.policy.releaseDelayMs,
        retry: true,
      },
      this.changeFor(resource),
    );
    await this.afterApply(res);
    return res.outcome;
  }

  private changeFor(svc: ServiceResource): ApplyMode {
    const plan = planClaim(svc, this.policy);
    return plan.kind === "claim"
      ? { mode: "claim", request: plan.request, resource: svc }
      : { mode: "reject", rejection: plan.rejection, resource: svc };
  }

  private async afterApply(res: ApplyResult): Promise<void> {
    const rec = res.record;
    if (!rec) return;
    if (res.outcome === "applied") {
      this.metrics.allocations.inc({ state: rec.state, reason: rec.reason });
      this.log.debug({ service: rec.owner, state: rec.state, ip: rec.ip, reason: rec.reason }, "allocation changed");
    }
    // Publish when this call changed the allocation, or when an earlier attempt committed
    // but never published (crash between the two; the message was then redelivered).
    if (res.outcome === "applied" || res.publish) await this.publisher.publish(rec);
  }
}
