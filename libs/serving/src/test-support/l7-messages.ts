// L7 resource messages as the gateway receives them: encoded and decoded by the contract.
import {
  decodeResourceMessage,
  encodeEvent,
  type GatewayResource,
  type L7ResourceKind,
  makeEvent,
  type ResourceMessage,
  ROUTE_KIND_TOKENS,
  type RouteResource,
  type SecretResource,
  subjects,
} from "@sharedlb/contracts";

const SOURCE = "sharedlb/watcher/test";

export function resourceMsg(subject: string, type: ResourceMessage["event"]["type"], data: unknown): ResourceMessage {
  const event = makeEvent({ type, source: SOURCE, subject, data } as Parameters<typeof makeEvent>[0]);
  return decodeResourceMessage(subject, encodeEvent(event));
}

export function gatewayMsg(g: GatewayResource): ResourceMessage {
  return resourceMsg(subjects.l7Resource(g.cluster, "gateway", g.namespace, g.name), "io.sharedlb.gateway.v1", g);
}

export function routeMsg(r: RouteResource): ResourceMessage {
  const kind = ROUTE_KIND_TOKENS[r.sourceKind];
  return resourceMsg(subjects.l7Resource(r.cluster, kind, r.namespace, r.name), "io.sharedlb.route.v1", r);
}

export function secretMsg(s: SecretResource): ResourceMessage {
  return resourceMsg(subjects.l7Resource(s.cluster, "secret", s.namespace, s.name), "io.sharedlb.secret.v1", s);
}

export function l7TombstoneMsg(kind: L7ResourceKind, cluster: string, namespace: string, name: string, uid: string): ResourceMessage {
  return resourceMsg(subjects.l7Resource(cluster, kind, namespace, name), "io.sharedlb.deleted.v1", {
    cluster,
    kind,
    namespace,
    name,
    uid,
  });
}
