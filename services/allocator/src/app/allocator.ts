import { type ResourceMessage, objectKey, type ServiceResource } from "@sharedlb/contracts";
import type { Logger } from "@sharedlb/runtime";
import { isFamilyOwner, secondOwnerOf, secondSeq, serviceOwner } from "../domain/dual-stack.js";
import type { AllocatorPolicy } from "../domain/pools.js";
import { followPorts, planStack, type Rejection, requestedFamilies } from "../domain/request.js";
import { parseClaims, recordResource, type SlotRecord } from "../domain/slot-record.js";
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

  /**
   * Applies one decoded `lb.resource.<c>.service.…` message with its stream sequence: the
   * Service's first IP family, then (dual-stack, or a Service that was) its second.
   */
  async handle(msg: ResourceMessage, seq: number): Promise<ApplyResult["outcome"]> {
    const { cluster, namespace, name } = msg.subject;
    const owner = objectKey(cluster, namespace, name);
    // noteSend: what the apply asks to publish is noted in the same call (AllocationPublisher.publish's hints).
    const base = { owner, cluster, namespace, name, seq, now: this.now(), releaseDelayMs: this.policy.releaseDelayMs, noteSend: true };
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
    // A stale event's successor owns the second family too; a late tombstone changed nothing.
    const second = res.record && (res.outcome === "applied" || res.outcome === "unchanged") ? await this.followSecond(res.record, false, res.secondFamily) : null;
    await this.afterApply(res, second);
    return res.outcome === "unchanged" && second?.outcome === "applied" ? "applied" : res.outcome;
  }

  /** Re-plans a Pending Service (either family's record) from its stored resource (capacity or quota freed up). */
  async retry(owner: string): Promise<ApplyResult["outcome"]> {
    if (isFamilyOwner(owner)) {
      const rec = await this.store.record(owner);
      const first = rec?.state === "Pending" ? await this.store.record(serviceOwner(owner)) : null;
      if (!rec || !first || secondSeq(first) !== rec.seq) return "unchanged";
      const second = await this.syncSecond(first, true);
      await this.afterApply({ outcome: "unchanged", record: first, publish: false }, second);
      return second?.outcome ?? "unchanged";
    }
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
        noteSend: true,
      },
      this.changeFor(resource),
    );
    // Allocated now: the second family's sequence moved on (secondSeq), so this is no retry for it.
    const second = res.outcome === "applied" && res.record ? await this.syncSecond(res.record, false, res.secondFamily) : null;
    await this.afterApply(res, second);
    return res.outcome;
  }

  private changeFor(svc: ServiceResource): ApplyMode {
    const stack = planStack(svc, this.policy);
    if (stack.kind === "dual") return { mode: "claim", request: stack.primary.request, resource: svc };
    const plan = stack.plan;
    return plan.kind === "claim"
      ? { mode: "claim", request: plan.request, resource: svc }
      : { mode: "reject", rejection: plan.rejection, resource: svc };
  }

  /**
   * Brings the second-family record in line with the first, then checks that no newer event
   * moved the first meanwhile (another replica): a second record applied for an older event
   * after the newer one skipped it would keep slots the Service no longer asks for.
   */
  private async followSecond(first: SlotRecord, retry: boolean, noted?: boolean): Promise<ApplyResult | null> {
    const second = await this.syncSecond(first, retry, noted);
    if (second?.outcome !== "applied") return second;
    const latest = await this.store.record(first.owner);
    return latest && latest.seq > first.seq ? ((await this.syncSecond(latest, false)) ?? second) : second;
  }

  /**
   * Applies to the Service's second-family record what its first record implies, under the
   * first's sequence and uid. A Service that never asked for two families has no second
   * record and gets none. noted: false when the first's apply found no second-family record
   * noted (ApplyResult.secondFamily), so none is read.
   */
  private async syncSecond(first: SlotRecord, retry: boolean, noted?: boolean): Promise<ApplyResult | null> {
    const svc = first.state === "Released" ? null : recordResource(first);
    const owner = secondOwnerOf(first);
    if (!(svc && requestedFamilies(svc).length === 2) && (noted === false || !(await this.store.record(owner)))) return null;
    const args = {
      owner,
      cluster: first.cluster,
      namespace: first.namespace,
      name: first.name,
      uid: first.uid,
      seq: secondSeq(first),
      now: this.now(),
      releaseDelayMs: this.policy.releaseDelayMs,
      noteSend: true,
      ...(retry ? { retry: true } : {}),
    };
    return this.store.apply(args, svc ? this.secondChange(svc, first) : { mode: "release" });
  }

  /** The second family follows the first: claimed on the first's external ports once it is Allocated, waiting while it waits. */
  private secondChange(svc: ServiceResource, first: SlotRecord): ApplyMode {
    const stack = planStack(svc, this.policy);
    if (stack.kind === "dual" && first.state === "Allocated") {
      return { mode: "claim", request: followPorts(stack.secondary.request, parseClaims(first.claims)), resource: svc };
    }
    // Holds nothing while the first family waits; the first one's retry brings it along.
    const rejection: Rejection =
      stack.kind === "dual"
        ? { reason: "PoolExhausted", message: "waiting for the first IP family's address" }
        : stack.kind === "single" && stack.note
        ? stack.note
        : stack.kind === "single" && stack.plan.kind === "reject"
          ? stack.plan.rejection
          : { reason: "InvalidAnnotation", message: "the Service asks for one IP family" };
    return { mode: "reject", rejection, resource: svc };
  }

  private async afterApply(res: ApplyResult, second: ApplyResult | null): Promise<void> {
    const rec = res.record;
    if (!rec) return;
    if (res.outcome === "applied") {
      this.metrics.allocations.inc({ state: rec.state, reason: rec.reason });
      this.log.debug({ service: rec.owner, state: rec.state, ip: rec.ip, reason: rec.reason }, "allocation changed");
    }
    if (second?.outcome === "applied" && second.record) {
      this.log.debug({ service: second.record.owner, state: second.record.state, ip: second.record.ip, reason: second.record.reason }, "second-family allocation changed");
    }
    // Publish when this call changed the allocation, or when an earlier attempt committed
    // but never published (crash between the two; the message was then redelivered).
    const changed = res.outcome === "applied" || res.publish || second?.outcome === "applied" || second?.publish === true;
    const notes = [res.note, second?.note].filter((n): n is string => n !== undefined);
    // An apply notes a send only when it asks for a publish, so no note is left unpublished here.
    if (changed) await this.publisher.publish(rec, {
      notes,
      ...(res.home !== undefined ? { home: res.home } : {}),
      // No second-family record was noted and none was applied now: there is none to merge.
      ...(res.secondFamily === false && !second ? { secondFamily: false } : {}),
    });
  }
}
