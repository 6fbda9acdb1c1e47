import {
  type Allocation,
  type EndpointsResource,
  type L7Allocation,
  type NodeResource,
  objectKey,
  type ResourceMessage,
  type ServiceResource,
} from "@sharedlb/contracts";
import { type AddressRefusal, type AddressRefusalReason, NodeAddressPolicy } from "./address-policy.js";
import { L7State } from "./l7/l7-state.js";
import type { L7SlotCache } from "./l7/slot-cache.js";
import type { L7SlotPlan } from "./l7/types.js";
import {
  type ClusterNodes,
  classifyNodes,
  type NodeSelection,
  nodeAddress,
  type ProbeTarget,
  type ProbeVerdicts,
  probeTargetKey,
  selectEndpoints,
  selectNodes,
} from "./node-selection.js";
import { healthSignalPort, PoolHealthChecks, planService, type ServicePlan } from "./plan.js";

/** Services whose resources must be rebuilt, split by how much. */
export interface DirtyServices {
  /** Listeners, clusters, routes and endpoints. */
  readonly full: ReadonlySet<string>;
  /** Only endpoints (a node or an EndpointSlice changed). */
  readonly endpoints: ReadonlySet<string>;
  /** L7 slots (`<pool>/<ip>/<port>`) whose resources must be rebuilt (planL7Slot). */
  readonly l7Slots: ReadonlySet<string>;
}

/** A node whose address the policy refuses, or that is served again (refusal undefined). */
export interface NodeRefusalChange {
  readonly cluster: string;
  readonly node: string;
  /** Empty when the node was deleted. */
  readonly address: string;
  readonly refusal: AddressRefusal | undefined;
  readonly deleted: boolean;
}

/** A Service deletion that names another object (uid) than the one held under that name. */
export interface StaleIncarnation {
  readonly service: string;
  readonly deletedUid: string;
  readonly heldUid: string;
}

/** What the view tells its owner about, as it happens (logs, metrics). */
export interface ViewObserver {
  nodeRefusalChanged?(change: NodeRefusalChange): void;
  staleIncarnation?(event: StaleIncarnation): void;
}

export interface TenantViewOptions {
  readonly addressPolicy?: NodeAddressPolicy;
  /** Per pool; default TCP connect everywhere. */
  readonly healthChecks?: PoolHealthChecks;
  readonly observer?: ViewObserver;
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
  /** Per tenant cluster, which nodes can take traffic and why the others cannot; dropped when a node changes. */
  private readonly classified = new Map<string, ClusterNodes>();
  /** Per tenant cluster, the nodes whose address the policy refuses. */
  private readonly refused = new Map<string, Map<string, AddressRefusal>>();
  private readonly addressPolicy: NodeAddressPolicy;
  private readonly observer: ViewObserver;
  private readonly healthChecks: PoolHealthChecks;
  private probeVerdicts: ProbeVerdicts = new Map();
  /** Service keys per tenant cluster, for fanning out node changes. */
  private readonly keysByCluster = new Map<string, Set<string>>();
  private dirtyFull = new Set<string>();
  private dirtyEndpoints = new Set<string>();
  private readonly l7 = new L7State((cluster) => this.nodesOf(cluster).ready);

  constructor(options: TenantViewOptions = {}) {
    this.addressPolicy = options.addressPolicy ?? NodeAddressPolicy.BUILT_IN;
    this.observer = options.observer ?? {};
    this.healthChecks = options.healthChecks ?? PoolHealthChecks.TCP;
  }

  get serviceCount(): number {
    return this.services.size;
  }

  get allocationCount(): number {
    return this.allocations.size;
  }

  /**
   * Applies one resource event. `sequence` (its stream sequence) stands for the creation
   * order of routes in precedence ties; without it, the order of application does.
   */
  applyResource(msg: ResourceMessage, sequence?: number): void {
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
        this.l7.applyGateway(event.data);
        return;
      case "io.sharedlb.route.v1":
        this.l7.applyRoute(event.data, sequence);
        return;
      case "io.sharedlb.secret.v1":
        this.l7.applySecret(event.data);
        return;
      case "io.sharedlb.deleted.v1":
        switch (subject.kind) {
          case "service": {
            // Incarnation fence: a late tombstone of an earlier object with the same name
            // must not take down the one that replaced it.
            const held = this.services.get(key);
            if (held && event.data.uid !== "" && held.uid !== "" && held.uid !== event.data.uid) {
              this.observer.staleIncarnation?.({ service: key, deletedUid: event.data.uid, heldUid: held.uid });
              return;
            }
            this.services.delete(key);
            this.unindexIfGone(subject.cluster, key);
            this.dirtyFull.add(key);
            return;
          }
          case "endpoints":
            this.endpoints.delete(key);
            this.dirtyEndpoints.add(key);
            return;
          case "node":
            this.setNode(subject.cluster, subject.name, undefined);
            return;
          default:
            this.l7.delete(subject.kind, subject.cluster, subject.namespace, subject.name, event.data.uid);
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

  /** A Gateway's or Ingress's allocation (route kinds get none and are ignored). */
  applyL7Allocation(allocation: L7Allocation): void {
    this.l7.applyAllocation(allocation);
  }

  /** Returns and clears what changed since the last call. */
  takeDirty(): DirtyServices {
    const full = this.dirtyFull;
    const endpoints = this.dirtyEndpoints;
    for (const k of full) endpoints.delete(k);
    this.dirtyFull = new Set();
    this.dirtyEndpoints = new Set();
    return { full, endpoints, l7Slots: this.l7.takeDirty() };
  }

  /** Every L7 slot key with an allocated listener, for a full rebuild. */
  allL7SlotKeys(): Set<string> {
    return this.l7.slotKeys();
  }

  /**
   * What to serve on an L7 slot; undefined: nothing is served there any more. `cache`
   * (the slot's, kept by the caller) makes the same plan from less work.
   */
  planL7Slot(key: string, cache?: L7SlotCache): L7SlotPlan | undefined {
    return this.l7.plan(key, cache);
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
      ready: cluster === undefined ? [] : this.nodesOf(cluster).ready,
      endpoints: this.endpoints.get(key),
      healthChecks: allocation ? this.healthChecks.forPool(allocation.pool) : undefined,
      probeVerdicts: this.probeVerdicts,
    });
  }

  /**
   * Replaces the failing health signals (the gateway's probes); the Services of every
   * tenant cluster whose verdicts changed get their endpoints rebuilt.
   */
  setProbeVerdicts(verdicts: ProbeVerdicts): void {
    const changed = new Set<string>();
    for (const [key, v] of verdicts) if (this.probeVerdicts.get(key)?.message !== v.message) changed.add(v.cluster);
    for (const [key, v] of this.probeVerdicts) if (!verdicts.has(key)) changed.add(v.cluster);
    this.probeVerdicts = new Map(verdicts);
    for (const cluster of changed) for (const key of this.keysByCluster.get(cluster) ?? []) this.dirtyEndpoints.add(key);
  }

  /**
   * The health signals to probe: for every served Service of a pool in kubeProxy mode, each
   * node it is served on (only addresses the node address policy lets through), at its
   * healthCheckNodePort (Local) or kube-proxy's port; one target per (cluster, address, port).
   */
  probeTargets(): ProbeTarget[] {
    if (!this.healthChecks.anyKubeProxy) return [];
    const targets = new Map<string, ProbeTarget>();
    for (const [key, allocation] of this.allocations) {
      const service = this.services.get(key);
      if (!service || allocation.state !== "Allocated" || allocation.uid !== service.uid) continue;
      const settings = this.healthChecks.forPool(allocation.pool);
      if (settings.mode !== "kubeProxy") continue;
      const { port, kind } = healthSignalPort(service, settings);
      for (const e of selectEndpoints(service, this.nodesOf(service.cluster).ready, this.endpoints.get(key))) {
        const targetKey = probeTargetKey(service.cluster, e.address, port);
        if (!targets.has(targetKey))
          targets.set(targetKey, { key: targetKey, cluster: service.cluster, node: e.node, address: e.address, port, kind });
      }
    }
    return [...targets.values()];
  }

  /** Which nodes serve a Service and why the others do not; undefined for a Service the view does not hold. */
  nodeSelection(key: string): NodeSelection | undefined {
    const service = this.services.get(key);
    if (!service) return undefined;
    return selectNodes(service, this.nodesOf(service.cluster), this.endpoints.get(key));
  }

  /** The Service and the allocation held under `key`, for what is reported about it. */
  held(key: string): { readonly service: ServiceResource | undefined; readonly allocation: Allocation | undefined } {
    return { service: this.services.get(key), allocation: this.allocations.get(key) };
  }

  /** How many nodes the address policy refuses now, by reason. */
  refusedNodeCounts(): Map<AddressRefusalReason, number> {
    const counts = new Map<AddressRefusalReason, number>();
    for (const nodes of this.refused.values()) {
      for (const r of nodes.values()) counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
    }
    return counts;
  }

  private nodesOf(cluster: string): ClusterNodes {
    let nodes = this.classified.get(cluster);
    if (!nodes) {
      nodes = classifyNodes(this.nodes.get(cluster)?.values() ?? [], this.addressPolicy);
      this.classified.set(cluster, nodes);
    }
    return nodes;
  }

  private trackRefusal(cluster: string, name: string, node: NodeResource | undefined): void {
    const address = node ? nodeAddress(node) : undefined;
    const refusal = address === undefined ? undefined : this.addressPolicy.check(cluster, address);
    if (this.refused.get(cluster)?.get(name)?.message === refusal?.message) return;
    setInCluster(this.refused, cluster, name, refusal);
    this.observer.nodeRefusalChanged?.({ cluster, node: name, address: address ?? "", refusal, deleted: node === undefined });
  }

  private setNode(cluster: string, name: string, node: NodeResource | undefined): void {
    const nodes = this.nodes.get(cluster);
    const before = nodes?.get(name);
    // Watchers republish every node periodically; only what endpoints depend on counts.
    if (before && node && sameForEndpoints(before, node)) {
      nodes?.set(name, node);
      return;
    }
    if (!before && !node) return;
    setInCluster(this.nodes, cluster, name, node);
    this.trackRefusal(cluster, name, node);
    this.classified.delete(cluster);
    for (const key of this.keysByCluster.get(cluster) ?? []) this.dirtyEndpoints.add(key);
    this.l7.nodesChanged(cluster);
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

/** Sets (or, with undefined, deletes) `name` in the per-cluster map, dropping clusters left empty. */
function setInCluster<V>(byCluster: Map<string, Map<string, V>>, cluster: string, name: string, value: V | undefined): void {
  let entries = byCluster.get(cluster);
  if (value === undefined) {
    entries?.delete(name);
    if (entries?.size === 0) byCluster.delete(cluster);
    return;
  }
  if (!entries) {
    entries = new Map();
    byCluster.set(cluster, entries);
  }
  entries.set(name, value);
}

function sameForEndpoints(a: NodeResource, b: NodeResource): boolean {
  return (
    a.ready === b.ready &&
    a.excluded === b.excluded &&
    a.addresses.internal === b.addresses.internal &&
    a.addresses.external === b.addresses.external
  );
}
