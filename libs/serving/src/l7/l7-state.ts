// The L7 half of the tenant view: Gateways, routes, Secrets and L7 allocations as
// replayed from the streams, which slots each change touches, and the plan of a slot.
import type { GatewayResource, L7Allocation, RouteResource, SecretResource } from "@sharedlb/contracts";
import type { NodeEndpoint } from "../node-selection.js";
import { l7SlotKey } from "./naming.js";
import { listenerKindOf, planSlot, type SlotHolder } from "./planner.js";
import type { L7SlotCache } from "./slot-cache.js";
import type { HeldRoute } from "./slot-draft.js";
import type { L7SlotPlan } from "./types.js";

/** The subject kind tokens of L7 resources. */
export type L7ResourceToken = "gateway" | "ingress" | "httproute" | "grpcroute" | "tlsroute" | "secret";

const ROUTE_TOKENS = { Ingress: "ingress", HTTPRoute: "httproute", GRPCRoute: "grpcroute", TLSRoute: "tlsroute" } as const;

const id = (cluster: string, namespace: string, name: string) => `${cluster}/${namespace}/${name}`;

export class L7State {
  private readonly gateways = new Map<string, GatewayResource>();
  /** By `<kind token>/<cluster>/<ns>/<name>`. */
  private readonly routes = new Map<string, HeldRoute>();
  private readonly secrets = new Map<string, SecretResource>();
  /** Gateway and Ingress allocations by `<kind>/<cluster>/<ns>/<name>`. */
  private readonly allocations = new Map<string, L7Allocation>();
  /** Gateway id → ids of the routes naming it as a parent. */
  private readonly attached = new Map<string, Set<string>>();
  /** Slot key → allocation id → its listeners on the slot. */
  private readonly holders = new Map<string, Map<string, SlotHolder[]>>();
  private readonly allocationsByCluster = new Map<string, Set<string>>();
  private dirty = new Set<string>();
  /** Stands for creation order where the caller gives no stream sequence. */
  private counter = 0;

  constructor(private readonly endpointsOf: (cluster: string) => readonly NodeEndpoint[]) {}

  applyGateway(gw: GatewayResource): void {
    this.gateways.set(id(gw.cluster, gw.namespace, gw.name), gw);
    this.markAllocation(`gateway/${id(gw.cluster, gw.namespace, gw.name)}`);
  }

  applyRoute(route: RouteResource, sequence?: number): void {
    const key = `${ROUTE_TOKENS[route.sourceKind]}/${id(route.cluster, route.namespace, route.name)}`;
    const held = this.routes.get(key);
    // The oldest route wins precedence ties: keep its age across updates of one object.
    const age = held && held.route.uid === route.uid ? held.age : (sequence ?? ++this.counter);
    if (held) this.unattach(key, held.route);
    this.routes.set(key, { route, age });
    this.attach(key, route);
  }

  applySecret(secret: SecretResource): void {
    this.secrets.set(id(secret.cluster, secret.namespace, secret.name), secret);
    this.markSecretUsers(secret.cluster, secret.namespace, secret.name);
  }

  /** A tombstone; one naming another incarnation (uid) than the held object is ignored. */
  delete(kind: L7ResourceToken, cluster: string, namespace: string, name: string, uid: string): void {
    const objectId = id(cluster, namespace, name);
    const stale = (held: { uid: string } | undefined) => held !== undefined && uid !== "" && held.uid !== "" && held.uid !== uid;
    if (kind === "gateway") {
      if (stale(this.gateways.get(objectId))) return;
      this.gateways.delete(objectId);
      this.markAllocation(`gateway/${objectId}`);
    } else if (kind === "secret") {
      if (stale(this.secrets.get(objectId))) return;
      this.secrets.delete(objectId);
      this.markSecretUsers(cluster, namespace, name);
    } else {
      const key = `${kind}/${objectId}`;
      const held = this.routes.get(key);
      if (!held || stale(held.route)) return;
      this.unattach(key, held.route);
      this.routes.delete(key);
    }
  }

  applyAllocation(a: L7Allocation): void {
    if (a.kind !== "gateway" && a.kind !== "ingress") return; // routes get no allocation
    const key = `${a.kind}/${id(a.cluster, a.namespace, a.name)}`;
    this.markAllocation(key);
    for (const [slot, byAlloc] of this.holders) {
      if (byAlloc.delete(key) && byAlloc.size === 0) this.holders.delete(slot);
    }
    if (a.state === "Released") {
      this.allocations.delete(key);
      this.allocationsByCluster.get(a.cluster)?.delete(key);
      return;
    }
    this.allocations.set(key, a);
    let inCluster = this.allocationsByCluster.get(a.cluster);
    if (!inCluster) {
      inCluster = new Set();
      this.allocationsByCluster.set(a.cluster, inCluster);
    }
    inCluster.add(key);
    for (const listener of a.listeners) {
      if (listener.state !== "Allocated" || listener.ip === "" || listener.port === 0 || !listenerKindOf(listener.protocol)) continue;
      const slot = l7SlotKey(listener.pool, listener.ip, listener.port);
      let byAlloc = this.holders.get(slot);
      if (!byAlloc) {
        byAlloc = new Map();
        this.holders.set(slot, byAlloc);
      }
      byAlloc.set(key, [...(byAlloc.get(key) ?? []), { allocation: a, listener }]);
    }
    this.markAllocation(key);
  }

  /** The cluster's nodes changed: every slot with its backends is rebuilt. */
  nodesChanged(cluster: string): void {
    for (const key of this.allocationsByCluster.get(cluster) ?? []) this.markAllocation(key);
  }

  takeDirty(): Set<string> {
    const d = this.dirty;
    this.dirty = new Set();
    return d;
  }

  slotKeys(): Set<string> {
    return new Set(this.holders.keys());
  }

  /** `cache`: the slot's, kept by the caller between plans of this slot. */
  plan(slot: string, cache?: L7SlotCache): L7SlotPlan | undefined {
    const holders = [...(this.holders.get(slot)?.values() ?? [])].flat();
    const first = holders[0];
    if (!first) return undefined;
    const where = { pool: first.listener.pool, ip: first.listener.ip, port: first.listener.port };
    return planSlot(
      slot,
      where,
      holders,
      {
        gateway: (c, ns, n) => this.gateways.get(id(c, ns, n)),
        ingress: (c, ns, n) => this.routes.get(`ingress/${id(c, ns, n)}`),
        attachedRoutes: (c, ns, n) =>
          [...(this.attached.get(id(c, ns, n)) ?? [])].flatMap((k) => {
            const r = this.routes.get(k);
            return r ? [r] : [];
          }),
        secret: (c, ns, n) => this.secrets.get(id(c, ns, n)),
        endpoints: this.endpointsOf,
      },
      cache,
    );
  }

  private markAllocation(key: string): void {
    const a = this.allocations.get(key);
    for (const l of a?.listeners ?? []) {
      if (l.ip !== "" && l.port !== 0) this.dirty.add(l7SlotKey(l.pool, l.ip, l.port));
    }
  }

  /** Routes are served through their parents' allocations (an Ingress through its own). */
  private markRoute(route: RouteResource): void {
    if (route.sourceKind === "Ingress") {
      this.markAllocation(`ingress/${id(route.cluster, route.namespace, route.name)}`);
      return;
    }
    for (const p of route.parentRefs) this.markAllocation(`gateway/${id(route.cluster, p.namespace, p.name)}`);
  }

  private attach(key: string, route: RouteResource): void {
    this.markRoute(route);
    for (const p of route.parentRefs) {
      const gw = id(route.cluster, p.namespace, p.name);
      let set = this.attached.get(gw);
      if (!set) {
        set = new Set();
        this.attached.set(gw, set);
      }
      set.add(key);
    }
  }

  private unattach(key: string, route: RouteResource): void {
    this.markRoute(route);
    for (const p of route.parentRefs) {
      const gw = id(route.cluster, p.namespace, p.name);
      const set = this.attached.get(gw);
      set?.delete(key);
      if (set?.size === 0) this.attached.delete(gw);
    }
  }

  /** Slots of the Gateways and Ingresses of the cluster that reference the Secret. */
  private markSecretUsers(cluster: string, namespace: string, name: string): void {
    for (const key of this.allocationsByCluster.get(cluster) ?? []) {
      const [kind, ...rest] = key.split("/");
      const objectId = rest.join("/");
      const uses =
        kind === "gateway"
          ? this.gateways
              .get(objectId)
              ?.listeners.some((l) => l.tls?.certificateRefs.some((c) => c.namespace === namespace && c.name === name))
          : this.routes.get(key)?.route.tls?.some((t) => t.secret.namespace === namespace && t.secret.name === name);
      if (uses) this.markAllocation(key);
    }
  }
}
