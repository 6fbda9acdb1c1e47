import type { Allocation, ResourceMessage } from "@sharedlb/contracts";
import { ENDPOINT_TYPE, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import { buildLoadAssignments, buildServiceResources, type FleetDefinition, TenantView } from "@sharedlb/serving";
import { FleetSnapshot } from "./domain/fleet-snapshot.js";
import { NameSetRegistry } from "./domain/name-set.js";
import { ResourceEntry } from "./domain/resource-entry.js";
import { type NameConflict, ResourceStore, type StoreChange } from "./domain/resource-store.js";
import { SubscriptionRegistry } from "./domain/subscription.js";

export interface RebuildStats {
  readonly services: number;
  readonly endpointsOnly: number;
  readonly changes: number;
  readonly ms: number;
}

export interface GatewayHooks {
  onWarning?(service: string, warnings: readonly string[]): void;
  /** Building a Service failed (a bug, not bad input: input is validated); it keeps what it had. */
  onBuildError?(service: string, err: unknown): void;
  onConflict?(conflict: NameConflict): void;
  onRebuild?(stats: RebuildStats): void;
}

const ENDPOINTS_ONLY: ReadonlySet<ResourceTypeUrl> = new Set([ENDPOINT_TYPE]);

/**
 * The view, the resources built from it, and the fleets that serve them. Messages are
 * applied as they come; resources are rebuilt in batches (everything that arrived in
 * one turn of the event loop), and not at all until the replay of both streams is done,
 * so a replica never serves a half-replayed state.
 */
export class Gateway {
  /** Interned subscriptions, shared by all SotW streams. */
  readonly subscriptions = new SubscriptionRegistry();
  /** Interned name sets, shared by all delta streams. */
  readonly nameSets = new NameSetRegistry();
  private readonly store = new ResourceStore();
  private readonly fleets = new Map<string, FleetSnapshot>();
  private live = false;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    fleets: readonly FleetDefinition[],
    private readonly hooks: GatewayHooks = {},
    /** The view to serve from; the main wiring passes one with the node address policy and reporting. */
    readonly view: TenantView = new TenantView(),
  ) {
    for (const f of fleets) this.fleets.set(f.name, new FleetSnapshot(f.name, f.pools));
  }

  fleet(name: string): FleetSnapshot | undefined {
    return this.fleets.get(name);
  }

  fleetNames(): string[] {
    return [...this.fleets.keys()];
  }

  get isLive(): boolean {
    return this.live;
  }

  get resourceCount(): number {
    return this.store.size;
  }

  applyResource(msg: ResourceMessage): void {
    this.view.applyResource(msg);
    this.schedule();
  }

  applyAllocation(allocation: Allocation): void {
    this.view.applyAllocation(allocation);
    this.schedule();
  }

  /** The replay is complete: build everything and start following changes. */
  goLive(): RebuildStats {
    this.live = true;
    return this.rebuild();
  }

  /** Builds whatever changed since the last rebuild and hands it to the fleets. */
  rebuild(): RebuildStats {
    if (this.scheduled) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    const started = performance.now();
    const dirty = this.view.takeDirty();
    const changes: StoreChange[] = [];
    for (const key of dirty.full) {
      this.guarded(key, () => {
        const plan = this.view.plan(key);
        if (plan && plan.warnings.length > 0) this.hooks.onWarning?.(key, plan.warnings);
        const entries = plan ? buildServiceResources(plan).map((b) => ResourceEntry.fromBuilt(b, plan.pool, key)) : [];
        this.collect(this.store.replace(key, entries), changes);
      });
    }
    for (const key of dirty.endpoints) {
      this.guarded(key, () => {
        const plan = this.view.plan(key);
        // Not served: a full rebuild already removed everything of it.
        if (!plan) return;
        const entries = buildLoadAssignments(plan).map((b) => ResourceEntry.fromBuilt(b, plan.pool, key));
        this.collect(this.store.replace(key, entries, ENDPOINTS_ONLY), changes);
      });
    }
    if (changes.length > 0) {
      const now = performance.now();
      for (const fleet of this.fleets.values()) fleet.apply(changes, now);
    }
    const stats: RebuildStats = {
      services: dirty.full.size,
      endpointsOnly: dirty.endpoints.size,
      changes: changes.length,
      ms: performance.now() - started,
    };
    this.hooks.onRebuild?.(stats);
    return stats;
  }

  /** Rebuilds run from the event loop: one Service's failure must not take the process down. */
  private guarded(key: string, build: () => void): void {
    try {
      build();
    } catch (err) {
      this.hooks.onBuildError?.(key, err);
    }
  }

  private collect(result: ReturnType<ResourceStore["replace"]>, into: StoreChange[]): void {
    for (const c of result.changes) into.push(c);
    for (const c of result.conflicts) this.hooks.onConflict?.(c);
  }

  private schedule(): void {
    if (!this.live || this.scheduled) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      this.rebuild();
    });
  }
}
