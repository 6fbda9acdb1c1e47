import {
  type Allocation,
  type EndpointsResource,
  type NodeResource,
  objectKey,
  type ResourceMessage,
  type ServiceResource,
} from "@sharedlb/contracts";
import { type NodeEndpoint, planService, readyEndpoints, type ServicePlan } from "./plan.js";

/** Services whose resources must be rebuilt, split by how much. */
export interface DirtyServices {
  /** Listeners, clusters, routes and endpoints. */
  readonly full: ReadonlySet<string>;
  /** Only endpoints (a node or an EndpointSlice changed). */
  readonly endpoints: ReadonlySet<string>;
}

/**
 * The current tenant state as replayed from LB_RESOURCES and LB_ALLOCATIONS, with the
 * set of Services each change affects. Messages are applied in stream order, last one
 * wins: both streams keep the last value per subject, so a replica that replays them
 * ends in the state of one that followed them live, which is what makes versions agree.
 */
export class TenantView {
  private readonly services = new Map<string, ServiceResource>();
  private readonly allocations = new Map<string, Allocation>();
  private readonly endpoints = new Map<string, EndpointsResource>();
  private readonly nodes = new Map<string, Map<string, NodeResource>>();
  /** Per tenant cluster, its nodes that can take traffic; dropped when a node changes. */
  private readonly ready = new Map<string, readonly NodeEndpoint[]>();
  /** Service keys per tenant cluster, for fanning out node changes. */
  private readonly keysByCluster = new Map<string, Set<string>>();
  private dirtyFull = new Set<string>();
  private dirtyEndpoints = new Set<string>();

  get serviceCount(): number {
    return this.services.size;
  }

  get allocationCount(): number {
    return this.allocations.size;
  }

  applyResource(msg: ResourceMessage): void {
    const { subject, event } = msg;
    const key = objectKey(subject.cluster, subject.namespace, subject.name);
    switch (event.type) {
      case "io.sharedlb.service.v1":
        this.services.set(key, event.data);
        this.index(subject.cluster, key);
        this.dirtyFull.add(key);
        return;
      case "io.sharedlb.endpoints.v1":
        this.endpoints.set(key, event.data);
        this.dirtyEndpoints.add(key);
        return;
      case "io.sharedlb.node.v1":
        this.setNode(event.data.cluster, event.data.name, event.data);
        return;
      case "io.sharedlb.gateway.v1":
      case "io.sharedlb.route.v1":
      case "io.sharedlb.secret.v1":
        // L7 objects are not served by this version of the gateway.
        return;
      case "io.sharedlb.deleted.v1":
        switch (subject.kind) {
          case "service":
            this.services.delete(key);
            this.unindexIfGone(subject.cluster, key);
            this.dirtyFull.add(key);
            return;
          case "endpoints":
            this.endpoints.delete(key);
            this.dirtyEndpoints.add(key);
            return;
          case "node":
            this.setNode(subject.cluster, subject.name, undefined);
            return;
        }
    }
  }

  applyAllocation(allocation: Allocation): void {
    const key = objectKey(allocation.cluster, allocation.namespace, allocation.name);
    this.dirtyFull.add(key);
    // Released allocations are purged from the stream later without a message we would
    // see, so forget them now rather than keep them until restart.
    if (allocation.state === "Released") {
      this.allocations.delete(key);
      this.unindexIfGone(allocation.cluster, key);
      return;
    }
    this.allocations.set(key, allocation);
    this.index(allocation.cluster, key);
  }

  /** Returns and clears what changed since the last call. */
  takeDirty(): DirtyServices {
    const full = this.dirtyFull;
    const endpoints = this.dirtyEndpoints;
    for (const k of full) endpoints.delete(k);
    this.dirtyFull = new Set();
    this.dirtyEndpoints = new Set();
    return { full, endpoints };
  }

  /** Every Service key the view knows, for a full rebuild. */
  allKeys(): Set<string> {
    return new Set([...this.services.keys(), ...this.allocations.keys()]);
  }

  plan(key: string): ServicePlan | undefined {
    const service = this.services.get(key);
    const allocation = this.allocations.get(key);
    const cluster = service?.cluster ?? allocation?.cluster;
    return planService({
      key,
      service,
      allocation,
      ready: cluster === undefined ? [] : this.readyIn(cluster),
      endpoints: this.endpoints.get(key),
    });
  }

  private readyIn(cluster: string): readonly NodeEndpoint[] {
    let ready = this.ready.get(cluster);
    if (!ready) {
      ready = readyEndpoints(this.nodes.get(cluster)?.values() ?? []);
      this.ready.set(cluster, ready);
    }
    return ready;
  }

  private setNode(cluster: string, name: string, node: NodeResource | undefined): void {
    let nodes = this.nodes.get(cluster);
    const before = nodes?.get(name);
    // Watchers republish every node periodically; only what endpoints depend on counts.
    if (before && node && sameForEndpoints(before, node)) {
      nodes?.set(name, node);
      return;
    }
    if (!before && !node) return;
    if (node) {
      if (!nodes) {
        nodes = new Map();
        this.nodes.set(cluster, nodes);
      }
      nodes.set(name, node);
    } else {
      nodes?.delete(name);
      if (nodes?.size === 0) this.nodes.delete(cluster);
    }
    this.ready.delete(cluster);
    for (const key of this.keysByCluster.get(cluster) ?? []) this.dirtyEndpoints.add(key);
  }

  private index(cluster: string, key: string): void {
    let keys = this.keysByCluster.get(cluster);
    if (!keys) {
      keys = new Set();
      this.keysByCluster.set(cluster, keys);
    }
    keys.add(key);
  }

  private unindexIfGone(cluster: string, key: string): void {
    if (this.services.has(key) || this.allocations.has(key)) return;
    const keys = this.keysByCluster.get(cluster);
    keys?.delete(key);
    if (keys?.size === 0) this.keysByCluster.delete(cluster);
  }
}

function sameForEndpoints(a: NodeResource, b: NodeResource): boolean {
  return (
    a.ready === b.ready &&
    a.excluded === b.excluded &&
    a.addresses.internal === b.addresses.internal &&
    a.addresses.external === b.addresses.external
  );
}
