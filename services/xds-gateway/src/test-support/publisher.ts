import type { JetStreamClient } from "@nats-io/jetstream";
import {
  type Allocation,
  type CloudEvent,
  type EndpointsResource,
  encodeEvent,
  type GatewayResource,
  type L7Allocation,
  makeEvent,
  type NodeResource,
  ROUTE_KIND_TOKENS,
  type RouteResource,
  type SecretResource,
  type ServiceResource,
  subjects,
} from "@sharedlb/contracts";
import { publishEvent } from "@sharedlb/runtime";

/** One message made ready to publish: its subject and its event, encoded. */
export interface Outgoing {
  readonly subject: string;
  readonly event: CloudEvent;
  readonly bytes: Uint8Array;
}

function outgoing(subject: string, event: CloudEvent): Outgoing {
  return { subject, event, bytes: encodeEvent(event) };
}

/** Publishes resource and allocation events as the watcher and allocator would. */
export class Publisher {
  constructor(private readonly js: JetStreamClient) {}

  /**
   * Publishes `messages` back to back, the way a watcher or allocator pipelines a burst:
   * every one encoded first, then all written without waiting for an ack in between.
   */
  async burst(messages: readonly Outgoing[]): Promise<void> {
    await Promise.all(messages.map((m) => this.js.publish(m.subject, m.bytes, { msgID: m.event.id })));
  }

  serviceMessage(s: ServiceResource): Outgoing {
    const ev = makeEvent({
      type: "io.sharedlb.service.v1",
      source: "sharedlb/watcher/test",
      subject: `${s.cluster}/${s.namespace}/${s.name}`,
      data: s,
    });
    return outgoing(subjects.service(s.cluster, s.namespace, s.name), ev);
  }

  async service(s: ServiceResource): Promise<number> {
    const m = this.serviceMessage(s);
    return (await publishEvent(this.js, m.subject, m.event)).seq;
  }

  async node(n: NodeResource): Promise<number> {
    const ev = makeEvent({ type: "io.sharedlb.node.v1", source: "sharedlb/watcher/test", subject: `${n.cluster}//${n.name}`, data: n });
    return (await publishEvent(this.js, subjects.node(n.cluster, n.name), ev)).seq;
  }

  async endpoints(e: EndpointsResource): Promise<number> {
    const ev = makeEvent({
      type: "io.sharedlb.endpoints.v1",
      source: "sharedlb/watcher/test",
      subject: `${e.cluster}/${e.namespace}/${e.name}`,
      data: e,
    });
    return (await publishEvent(this.js, subjects.endpoints(e.cluster, e.namespace, e.name), ev)).seq;
  }

  async tombstone(kind: "service" | "node" | "endpoints", cluster: string, namespace: string, name: string, uid: string): Promise<number> {
    const subject =
      kind === "service"
        ? subjects.service(cluster, namespace, name)
        : kind === "node"
          ? subjects.node(cluster, name)
          : subjects.endpoints(cluster, namespace, name);
    const ev = makeEvent({
      type: "io.sharedlb.deleted.v1",
      source: "sharedlb/watcher/test",
      subject: `${cluster}/${namespace}/${name}`,
      data: { cluster, kind, namespace, name, uid },
    });
    return (await publishEvent(this.js, subject, ev)).seq;
  }

  allocationMessage(a: Allocation): Outgoing {
    const ev = makeEvent({
      type: "io.sharedlb.allocation.v1",
      source: "sharedlb/allocator/test",
      subject: `${a.cluster}/${a.namespace}/${a.name}`,
      data: a,
    });
    return outgoing(subjects.allocation(a.cluster, a.namespace, a.name), ev);
  }

  async allocation(a: Allocation): Promise<number> {
    const m = this.allocationMessage(a);
    return (await publishEvent(this.js, m.subject, m.event)).seq;
  }

  async gateway(g: GatewayResource): Promise<number> {
    const ev = makeEvent({
      type: "io.sharedlb.gateway.v1",
      source: "sharedlb/watcher/test",
      subject: `${g.cluster}/${g.namespace}/${g.name}`,
      data: g,
    });
    return (await publishEvent(this.js, subjects.l7Resource(g.cluster, "gateway", g.namespace, g.name), ev)).seq;
  }

  routeMessage(r: RouteResource): Outgoing {
    const ev = makeEvent({
      type: "io.sharedlb.route.v1",
      source: "sharedlb/watcher/test",
      subject: `${r.cluster}/${r.namespace}/${r.name}`,
      data: r,
    });
    return outgoing(subjects.l7Resource(r.cluster, ROUTE_KIND_TOKENS[r.sourceKind], r.namespace, r.name), ev);
  }

  async route(r: RouteResource): Promise<number> {
    const m = this.routeMessage(r);
    return (await publishEvent(this.js, m.subject, m.event)).seq;
  }

  /** A Secret whose private key is already sealed (sealPrivateKey), as the watcher publishes it. */
  async secret(s: SecretResource): Promise<number> {
    const ev = makeEvent({
      type: "io.sharedlb.secret.v1",
      source: "sharedlb/watcher/test",
      subject: `${s.cluster}/${s.namespace}/${s.name}`,
      data: s,
    });
    return (await publishEvent(this.js, subjects.l7Resource(s.cluster, "secret", s.namespace, s.name), ev)).seq;
  }

  async l7Allocation(a: L7Allocation): Promise<number> {
    const ev = makeEvent({
      type: "io.sharedlb.l7allocation.v1",
      source: "sharedlb/allocator/test",
      subject: `${a.cluster}/${a.namespace}/${a.name}`,
      data: a,
    });
    return (await publishEvent(this.js, subjects.l7Allocation(a.cluster, a.namespace, a.name, a.kind), ev)).seq;
  }

  async raw(subject: string, payload: string): Promise<number> {
    return (await this.js.publish(subject, payload)).seq;
  }
}
