// Contract-valid tenant resources and messages for tests (import from "@sharedlb/testing/resources").
import {
  type AllocatedPort,
  type Allocation,
  decodeAllocationMessage,
  decodeResourceMessage,
  type EndpointsResource,
  encodeEvent,
  makeEvent,
  type NodeResource,
  type ResourceMessage,
  type ServiceResource,
  subjects,
} from "@sharedlb/contracts";
import { serviceResource } from "./servers/fixtures.js";

export const SOURCE = "sharedlb/watcher/test";

export function service(cluster: string, namespace: string, name: string, over: Partial<ServiceResource> = {}): ServiceResource {
  return serviceResource(cluster, namespace, name, { uid: `uid-${cluster}-${namespace}-${name}`, ...over });
}

export function node(cluster: string, name: string, internal: string, over: Partial<NodeResource> = {}): NodeResource {
  return { cluster, name, addresses: { internal, external: "" }, ready: true, excluded: false, ...over };
}

/** The allocation the allocator would publish for `svc` on `ip`, external port = service port unless mapped. */
export function allocation(
  svc: ServiceResource,
  ip: string,
  over: Partial<Allocation> = {},
  externalPorts: Record<number, number> = {},
): Allocation {
  const ports: AllocatedPort[] = svc.ports.map((p) => ({
    name: p.name,
    protocol: p.protocol,
    port: p.port,
    externalPort: externalPorts[p.port] ?? p.port,
    nodePort: p.nodePort,
  }));
  return {
    cluster: svc.cluster,
    namespace: svc.namespace,
    name: svc.name,
    uid: svc.uid,
    state: "Allocated",
    pool: "public",
    ip,
    ports,
    reason: "",
    message: "",
    resourceSequence: 1,
    ...over,
  };
}

export function endpoints(cluster: string, namespace: string, name: string, readyNodes: string[]): EndpointsResource {
  return { cluster, namespace, name, readyNodes };
}

// Messages go through encode + decode so tests apply exactly what the contract accepts.

export function serviceMsg(svc: ServiceResource): ResourceMessage {
  const subject = subjects.service(svc.cluster, svc.namespace, svc.name);
  return decodeResourceMessage(
    subject,
    encodeEvent(
      makeEvent({ type: "io.sharedlb.service.v1", source: SOURCE, subject: `${svc.cluster}/${svc.namespace}/${svc.name}`, data: svc }),
    ),
  );
}

export function nodeMsg(n: NodeResource): ResourceMessage {
  const subject = subjects.node(n.cluster, n.name);
  return decodeResourceMessage(
    subject,
    encodeEvent(makeEvent({ type: "io.sharedlb.node.v1", source: SOURCE, subject: `${n.cluster}//${n.name}`, data: n })),
  );
}

export function endpointsMsg(e: EndpointsResource): ResourceMessage {
  const subject = subjects.endpoints(e.cluster, e.namespace, e.name);
  return decodeResourceMessage(
    subject,
    encodeEvent(makeEvent({ type: "io.sharedlb.endpoints.v1", source: SOURCE, subject: `${e.cluster}/${e.namespace}/${e.name}`, data: e })),
  );
}

export function tombstoneMsg(
  kind: "service" | "node" | "endpoints",
  cluster: string,
  namespace: string,
  name: string,
  uid = "",
): ResourceMessage {
  const subject =
    kind === "node"
      ? subjects.node(cluster, name)
      : kind === "service"
        ? subjects.service(cluster, namespace, name)
        : subjects.endpoints(cluster, namespace, name);
  return decodeResourceMessage(
    subject,
    encodeEvent(
      makeEvent({
        type: "io.sharedlb.deleted.v1",
        source: SOURCE,
        subject: `${cluster}/${namespace}/${name}`,
        data: { cluster, kind, namespace, name, uid },
      }),
    ),
  );
}

export function allocationData(a: Allocation): Allocation {
  const subject = subjects.allocation(a.cluster, a.namespace, a.name);
  return decodeAllocationMessage(
    subject,
    encodeEvent(
      makeEvent({
        type: "io.sharedlb.allocation.v1",
        source: "sharedlb/allocator/test",
        subject: `${a.cluster}/${a.namespace}/${a.name}`,
        data: a,
      }),
    ),
  ).data;
}
