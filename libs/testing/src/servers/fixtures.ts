import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  type Allocation,
  decodeAllocationMessage,
  isServiceAllocationSubject,
  makeEvent,
  type ServiceResource,
  STREAM_NAMES,
  subjects,
} from "@sharedlb/contracts";
import { connectNats, createRootLogger, ensureStreams, type NatsSecurity, publishEvent, readLastValues } from "@sharedlb/runtime";
export type { NatsSecurity } from "@sharedlb/runtime";

/** A test's own view of NATS: publish resource events like a watcher, read like an auditor. */
export interface NatsFixture {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Publishes a Service event; returns its LB_RESOURCES sequence. */
  publishService(svc: ServiceResource, id?: string): Promise<number>;
  publishTombstone(cluster: string, namespace: string, name: string, uid: string, id?: string): Promise<number>;
  /** Publishes raw bytes on a subject (malformed messages). */
  publishRaw(subject: string, payload: string | Uint8Array): Promise<number>;
  /** The last allocation per Service, replayed from LB_ALLOCATIONS. */
  allocations(): Promise<Map<string, Allocation>>;
  close(): Promise<void>;
}

/** `security`: the identity the fixture acts as where NATS requires one (an LB-side identity: it creates streams). */
export async function natsFixture(url: string, security: NatsSecurity = {}): Promise<NatsFixture> {
  const log = createRootLogger("test", "warn");
  const { nc, js, jsm } = await connectNats(url, "sharedlb-test", log, security);
  await ensureStreams(jsm, { replicas: 1, storage: "file" }, log);
  const source = "sharedlb/watcher/test";
  return {
    nc,
    js,
    jsm,
    async publishService(svc, id) {
      const ev = makeEvent({ type: "io.sharedlb.service.v1", source, subject: `${svc.cluster}/${svc.namespace}/${svc.name}`, data: svc, ...(id ? { id } : {}) });
      return (await publishEvent(js, subjects.service(svc.cluster, svc.namespace, svc.name), ev)).seq;
    },
    async publishTombstone(cluster, namespace, name, uid, id) {
      const ev = makeEvent({
        type: "io.sharedlb.deleted.v1",
        source,
        subject: `${cluster}/${namespace}/${name}`,
        data: { cluster, kind: "service", namespace, name, uid },
        ...(id ? { id } : {}),
      });
      return (await publishEvent(js, subjects.service(cluster, namespace, name), ev)).seq;
    },
    async publishRaw(subject, payload) {
      return (await js.publish(subject, payload)).seq;
    },
    async allocations() {
      return readLastValues(js, jsm, STREAM_NAMES.allocations, (subject, data) => {
        if (!isServiceAllocationSubject(subject)) return undefined;
        const ev = decodeAllocationMessage(subject, data);
        return [`${ev.data.cluster}/${ev.data.namespace}/${ev.data.name}`, ev.data];
      });
    },
    close: () => nc.drain(),
  };
}

/** A Service resource with sensible defaults. */
export function serviceResource(cluster: string, namespace: string, name: string, over: Partial<ServiceResource> = {}): ServiceResource {
  return {
    cluster,
    namespace,
    name,
    uid: `${cluster}-${namespace}-${name}`,
    ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }],
    externalTrafficPolicy: "Cluster",
    healthCheckNodePort: 0,
    loadBalancerClass: "sharedlb.io/envoy",
    annotations: {},
    ...over,
  };
}
export { readLastValues } from "@sharedlb/runtime";
