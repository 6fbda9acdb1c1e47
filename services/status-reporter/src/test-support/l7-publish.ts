import type { JetStreamClient } from "@nats-io/jetstream";
import {
  type EventData,
  type EventType,
  type GatewayResource,
  type L7Allocation,
  type L7ResourceKind,
  makeEvent,
  objectKey,
  type Programmed,
  ROUTE_KIND_TOKENS,
  type RouteResource,
  subjects,
} from "@sharedlb/contracts";
import { publishEvent } from "@sharedlb/runtime";

// Publishing as the watcher, allocator and xds-gateway do, so a test can play them.

async function publishAs<T extends EventType>(
  js: JetStreamClient,
  natsSubject: string,
  type: T,
  source: string,
  data: EventData<T> & { cluster: string; namespace: string; name: string },
): Promise<number> {
  const ev = makeEvent({ type, source, subject: objectKey(data.cluster, data.namespace, data.name), data });
  return (await publishEvent(js, natsSubject, ev)).seq;
}

const WATCHER = "sharedlb/watcher/test";

export function publishGateway(js: JetStreamClient, g: GatewayResource): Promise<number> {
  return publishAs(js, subjects.l7Resource(g.cluster, "gateway", g.namespace, g.name), "io.sharedlb.gateway.v1", WATCHER, g);
}

export function publishRoute(js: JetStreamClient, r: RouteResource): Promise<number> {
  const subject = subjects.l7Resource(r.cluster, ROUTE_KIND_TOKENS[r.sourceKind], r.namespace, r.name);
  return publishAs(js, subject, "io.sharedlb.route.v1", WATCHER, r);
}

/** The watcher's tombstone: the object left sharedlb (deleted, or no longer of its class). */
export function publishL7Tombstone(
  js: JetStreamClient,
  cluster: string,
  kind: Exclude<L7ResourceKind, "secret">,
  namespace: string,
  name: string,
  uid: string,
): Promise<number> {
  const subject = subjects.l7Resource(cluster, kind, namespace, name);
  return publishAs(js, subject, "io.sharedlb.deleted.v1", WATCHER, { cluster, kind, namespace, name, uid });
}

export function publishL7Allocation(js: JetStreamClient, a: L7Allocation): Promise<number> {
  const subject = subjects.l7Allocation(a.cluster, a.namespace, a.name, a.kind);
  return publishAs(js, subject, "io.sharedlb.l7allocation.v1", "sharedlb/allocator/test", a);
}

/** `replica`: which xds-gateway replica reports (each counts only the Envoys connected to it). */
export function publishProgrammed(js: JetStreamClient, p: Programmed, replica = "test"): Promise<number> {
  const subject = subjects.programmed(p.cluster, p.namespace, p.name, p.kind);
  return publishAs(js, subject, "io.sharedlb.programmed.v1", `sharedlb/xds-gateway/${replica}`, p);
}
