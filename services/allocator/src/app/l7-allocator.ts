import type { GatewayResource, ResourceMessage, RouteResource } from "@sharedlb/contracts";
import type { Logger } from "@sharedlb/runtime";
import { type L7OwnerKind, l7Owner } from "../domain/l7-owner.js";
import { placeL7 } from "../domain/l7-placement.js";
import { recordL7Resource } from "../domain/l7-record.js";
import { planL7 } from "../domain/l7-request.js";
import type { AllocatorPolicy } from "../domain/pools.js";
import type { AllocatorMetrics } from "../metrics.js";
import type { L7AllocationPublisher, L7ApplyArgs, L7ApplyResult, L7SlotTable } from "./l7-ports.js";

export interface L7AllocatorOptions {
  policy: AllocatorPolicy;
  slots: L7SlotTable;
  publisher: L7AllocationPublisher;
  metrics: AllocatorMetrics;
  log: Logger;
  now?: () => number;
}

/** The pool kept changing under every attempt (heavy contention); the event is retried later. */
export class L7PlacementContended extends Error {
  override readonly name = "L7PlacementContended";
  readonly reason = "PlacementContended";
}

type Outcome = Exclude<L7ApplyResult["outcome"], "moved">;
type Base = Pick<L7ApplyArgs, "owner" | "kind" | "cluster" | "namespace" | "name" | "uid" | "seq" | "retry">;

const MAX_ATTEMPTS = 100;

/**
 * Turns Gateway and Ingress events into L7 allocations: plan (pure), snapshot the pool,
 * place (pure), commit atomically if the pool did not change meanwhile, publish. Safe on
 * any number of replicas; within one process L7 commits run one at a time, so replicas
 * only contend with each other.
 */
export class L7Allocator {
  private lane: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly opts: L7AllocatorOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Applies one decoded `lb.resource.<c>.gateway|ingress.…` message; routes and other kinds are not allocated. */
  async handle(msg: ResourceMessage, seq: number): Promise<Outcome> {
    const { cluster, namespace, name, kind } = msg.subject;
    if (kind !== "gateway" && kind !== "ingress") return "unchanged";
    const base = { owner: l7Owner(cluster, namespace, name, kind), kind, cluster, namespace, name, seq };
    const e = msg.event;
    if (e.type === "io.sharedlb.deleted.v1") return this.commit({ ...base, uid: e.data.uid }, undefined);
    const resource = e.type === "io.sharedlb.gateway.v1" || (e.type === "io.sharedlb.route.v1" && e.data.sourceKind === "Ingress") ? e.data : undefined;
    if (!resource) return "unchanged";
    return this.commit({ ...base, uid: resource.uid }, resource);
  }

  /** Re-plans a waiting Gateway or Ingress from its stored resource (claims were released). */
  async retry(owner: string): Promise<Outcome> {
    const rec = await this.opts.slots.record(owner);
    const resource = rec ? recordL7Resource(rec) : null;
    if (!rec?.waits || !resource) return "unchanged";
    const kind: L7OwnerKind = rec.kind;
    return this.commit({ owner, kind, cluster: rec.cluster, namespace: rec.namespace, name: rec.name, uid: rec.uid, seq: rec.seq, retry: true }, resource);
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lane.then(work, work);
    this.lane = run.catch(() => undefined);
    return run;
  }

  private async commit(base: Base, resource: GatewayResource | RouteResource | undefined): Promise<Outcome> {
    // Only snapshot + commit run one at a time; publishing does not hold the others up.
    const res = await this.serialized(() => this.place(base, resource));
    if (res.outcome === "staleIncarnation") {
      this.opts.metrics.staleIncarnation.inc();
      this.opts.log.warn({ object: base.owner, seq: base.seq, deletedUid: base.uid, heldUid: res.record?.uid }, "deletion of an earlier object with the same name ignored");
    }
    const rec = res.record;
    if (rec && res.outcome === "applied") {
      this.opts.metrics.allocations.inc({ state: rec.state, reason: rec.reason });
      this.opts.log.debug({ object: rec.owner, state: rec.state, ip: rec.ip, reason: rec.reason }, "L7 allocation changed");
    }
    if (rec && (res.outcome === "applied" || res.publish)) await this.opts.publisher.publish(rec);
    return res.outcome;
  }

  private async place(base: Base, resource: GatewayResource | RouteResource | undefined): Promise<L7ApplyResult & { outcome: Outcome }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const res = await this.opts.slots.apply(resource ? await this.claimArgs(base, resource) : this.releaseArgs(base));
      if (res.outcome !== "moved") return { ...res, outcome: res.outcome };
    }
    throw new L7PlacementContended(`${base.owner}: the pool changed under ${MAX_ATTEMPTS} placements in a row`);
  }

  private common(base: Base) {
    return { ...base, now: this.now(), releaseDelayMs: this.opts.policy.releaseDelayMs };
  }

  private releaseArgs(base: Base): L7ApplyArgs {
    return { ...this.common(base), mode: "release", pool: "", claims: [], state: "Released", reason: "", message: "", listeners: "[]", waits: false, costServices: 0, costPorts: 0, quotaServices: 0, quotaPorts: 0 };
  }

  private async claimArgs(base: Base, resource: GatewayResource | RouteResource): Promise<L7ApplyArgs> {
    const common = { ...this.common(base), mode: "claim" as const, generation: resource.generation, resource: JSON.stringify(resource) };
    const plan = planL7(resource, this.opts.policy);
    if (plan.kind === "reject") {
      const { reason, message } = plan.rejection;
      return { ...common, pool: "", claims: [], state: "Failed", reason, message, listeners: "[]", waits: false, costServices: 0, costPorts: 0, quotaServices: 0, quotaPorts: 0 };
    }
    const req = plan.request;
    const ports = [...new Set(req.listeners.filter((l) => !l.failure).map((l) => l.port))];
    const snap = await this.opts.slots.snapshot(base.owner, base.cluster, req.pool, req.ips, ports);
    const rec = snap.record;
    const held = rec && rec.state !== "Released" ? { pool: rec.pool, ip: rec.ip, services: rec.costServices, ports: rec.costPorts } : undefined;
    const p = placeL7(req, base.cluster, held, snap.occupancy);
    return {
      ...common,
      pool: req.pool,
      ver: snap.version,
      claims: p.claims,
      state: p.state,
      reason: p.reason,
      message: p.message,
      listeners: JSON.stringify(p.listeners),
      waits: p.waits,
      costServices: p.cost.services,
      costPorts: p.cost.ports,
      quotaServices: req.quota.services,
      quotaPorts: req.quota.ports,
    };
  }
}
