import type { V1Node } from "@kubernetes/client-node";
import { CoordinationV1Api, KubeConfig } from "@kubernetes/client-node";
import { type AnyCloudEvent, subjects } from "@sharedlb/contracts";
import { type ManagedProcess, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLoadBalancer, createNamespace, mergePatch, resources, startTenantEnv, SYSTEM_NS, type TenantEnv } from "./harness.js";

// The watcher against a real kube-apiserver (objects created by the test, as no
// controllers run), publishing into a real NATS, with the real allocator behind it.

const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.10"]
defaultPool: public
releaseDelaySeconds: 1
`;

const C = "tenant-w";
const RESYNC = ["--resync-interval", "1s"];
const NS = "app";
let env: TenantEnv;
let w1: ManagedProcess;

beforeAll(async () => {
  env = await startTenantEnv();
  await createNamespace(env.core, NS);
  await env.startAllocator(POOLS);
  w1 = await env.startWatcher({ cluster: C, replica: "w1", extra: RESYNC });
});

afterAll(async () => {
  await env?.stop();
});

function waitForResource(subject: string, ok: (e: AnyCloudEvent) => boolean, what: string): Promise<AnyCloudEvent> {
  let last: AnyCloudEvent | undefined;
  return waitFor(
    `${subject}: ${what}`,
    async () => {
      last = (await resources(env.fx)).get(subject);
      return last && ok(last) ? last : undefined;
    },
    20_000,
    50,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${JSON.stringify(last?.data)}`);
  });
}

const nodeData = (e: AnyCloudEvent) => (e.type === "io.sharedlb.node.v1" ? e.data : undefined);

function node(name: string, ip: string): V1Node {
  return {
    metadata: { name },
    status: {
      addresses: [{ type: "InternalIP", address: ip }],
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "KubeletReady",
          message: "ready",
          lastHeartbeatTime: new Date(),
          lastTransitionTime: new Date(),
        },
      ],
    },
  };
}

describe("watcher", () => {
  it("runs with the least privilege of deploy/k8s/tenant", async () => {
    const token = await env.kube.tokenFor(SYSTEM_NS, "sharedlb-watcher");
    const status = async (path: string, method = "GET", body?: unknown) =>
      (await env.kube.request(path, { token, method, ...(body ? { body } : {}) })).status;
    expect(await status("/api/v1/services")).toBe(200);
    expect(await status("/api/v1/nodes")).toBe(200);
    expect(await status("/apis/discovery.k8s.io/v1/endpointslices")).toBe(200);
    // It reads kubernetes.io/tls Secrets (for L7 listeners) but writes none, and writes no status.
    expect(await status("/api/v1/namespaces/app/secrets", "POST", { metadata: { name: "x" } })).toBe(403);
    expect(await status("/api/v1/namespaces/app/services/x/status", "PATCH", {})).toBe(403);
    expect(await status("/apis/coordination.k8s.io/v1/namespaces/default/leases")).toBe(403);
  });

  it("publishes Nodes, and their readiness and exclusion as they change", async () => {
    await env.core.createNode({ body: node("worker-1.example", "10.0.0.1") });
    const ready = await waitForResource(subjects.node(C, "worker-1.example"), (e) => nodeData(e)?.ready === true, "ready");
    expect(ready.data).toEqual({
      cluster: C,
      name: "worker-1.example",
      addresses: { internal: "10.0.0.1", external: "" },
      ready: true,
      excluded: false,
    });

    await env.core.patchNodeStatus(
      {
        name: "worker-1.example",
        body: {
          status: {
            conditions: [
              {
                type: "Ready",
                status: "False",
                reason: "KubeletNotReady",
                message: "down",
                lastHeartbeatTime: new Date(),
                lastTransitionTime: new Date(),
              },
            ],
          },
        },
      },
      mergePatch,
    );
    await waitForResource(subjects.node(C, "worker-1.example"), (e) => nodeData(e)?.ready === false, "NotReady");

    await env.core.patchNode(
      { name: "worker-1.example", body: { metadata: { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "true" } } } },
      mergePatch,
    );
    const excluded = await waitForResource(subjects.node(C, "worker-1.example"), (e) => nodeData(e)?.excluded === true, "excluded");
    expect(nodeData(excluded)).toMatchObject({ ready: false, excluded: true });

    await env.core.deleteNode({ name: "worker-1.example" });
    await waitForResource(subjects.node(C, "worker-1.example"), (e) => e.type === "io.sharedlb.deleted.v1", "tombstone");
  });

  it("publishes the ready nodes of a Local Service from its EndpointSlices", async () => {
    const svc = await createLoadBalancer(env.core, NS, "local-web", { externalTrafficPolicy: "Local", ports: [{ port: 8443 }] });
    const slice = (name: string, endpoints: { node: string; ready?: boolean }[]) => ({
      metadata: { name, namespace: NS, labels: { "kubernetes.io/service-name": "local-web" } },
      addressType: "IPv4",
      ports: [{ name: "p8443", port: 8443, protocol: "TCP" }],
      endpoints: endpoints.map((e, i) => ({
        addresses: [`10.1.0.${i + 1}`],
        nodeName: e.node,
        ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
      })),
    });
    await env.discovery.createNamespacedEndpointSlice({
      namespace: NS,
      body: slice("local-web-a", [
        { node: "n1", ready: true },
        { node: "n2", ready: false },
      ]),
    });
    await env.discovery.createNamespacedEndpointSlice({
      namespace: NS,
      body: slice("local-web-b", [{ node: "n3" }, { node: "n2", ready: false }]),
    });
    const subject = subjects.endpoints(C, NS, "local-web");
    const ev = await waitForResource(
      subject,
      (e) => e.type === "io.sharedlb.endpoints.v1" && e.data.readyNodes.length === 2,
      "two ready nodes",
    );
    expect(ev.data).toEqual({ cluster: C, namespace: NS, name: "local-web", readyNodes: ["n1", "n3"] });

    const service = (await resources(env.fx)).get(subjects.service(C, NS, "local-web"));
    expect(service?.data).toMatchObject({ externalTrafficPolicy: "Local", healthCheckNodePort: svc.spec?.healthCheckNodePort });

    await env.discovery.deleteNamespacedEndpointSlice({ name: "local-web-b", namespace: NS });
    await waitForResource(subject, (e) => e.type === "io.sharedlb.endpoints.v1" && e.data.readyNodes.join() === "n1", "only n1");

    // Cluster policy: endpoints do not matter to the load balancer any more.
    await env.core.patchNamespacedService(
      { name: "local-web", namespace: NS, body: { spec: { externalTrafficPolicy: "Cluster" } } },
      mergePatch,
    );
    await waitForResource(subject, (e) => e.type === "io.sharedlb.deleted.v1", "endpoints tombstone");
  });

  it("serves only its class, and class-less Services too with --default-class", async () => {
    const other = await env.startWatcher({ cluster: "tenant-d", replica: "d1", extra: ["--default-class"] });
    await createLoadBalancer(env.core, NS, "classless", { loadBalancerClass: null, ports: [{ port: 81 }] });
    await createLoadBalancer(env.core, NS, "foreign", { loadBalancerClass: "example.com/other-lb", ports: [{ port: 82 }] });
    await createLoadBalancer(env.core, NS, "ours", { ports: [{ port: 83 }] });
    const classless = await waitForResource(
      subjects.service("tenant-d", NS, "classless"),
      (e) => e.type === "io.sharedlb.service.v1",
      "published by the default watcher",
    );
    expect(classless.data).toMatchObject({ loadBalancerClass: "sharedlb.io/envoy" });
    await waitForResource(
      subjects.service("tenant-d", NS, "ours"),
      (e) => e.type === "io.sharedlb.service.v1",
      "published by the default watcher",
    );
    await waitForResource(subjects.service(C, NS, "ours"), (e) => e.type === "io.sharedlb.service.v1", "published");
    const all = await resources(env.fx);
    expect(all.has(subjects.service(C, NS, "classless"))).toBe(false);
    expect(all.has(subjects.service(C, NS, "foreign"))).toBe(false);
    expect(all.has(subjects.service("tenant-d", NS, "foreign"))).toBe(false);
    await other.stop();
  });

  it("publishes source ranges, session affinity, IP families and loadBalancerIP from the Service spec", async () => {
    await env.core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: "fenced" },
        spec: {
          type: "LoadBalancer",
          loadBalancerClass: "sharedlb.io/envoy",
          selector: { app: "fenced" },
          ports: [{ name: "https", port: 8443, protocol: "TCP" }],
          loadBalancerSourceRanges: ["10.1.0.0/16", " 192.168.0.0/24"],
          sessionAffinity: "ClientIP",
          loadBalancerIP: "203.0.113.10",
        },
      },
    });
    const subject = subjects.service(C, NS, "fenced");
    const published = await waitForResource(subject, (e) => e.type === "io.sharedlb.service.v1", "published");
    // ipFamilies and ipFamilyPolicy are what the (single-stack) apiserver defaulted.
    expect(published.data).toMatchObject({
      loadBalancerSourceRanges: ["10.1.0.0/16", "192.168.0.0/24"],
      sessionAffinity: "ClientIP",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      loadBalancerIP: "203.0.113.10",
    });
    await env.core.patchNamespacedService(
      { name: "fenced", namespace: NS, body: { spec: { loadBalancerSourceRanges: null, sessionAffinity: "None" } } },
      mergePatch,
    );
    const opened = await waitForResource(
      subject,
      (e) => e.type === "io.sharedlb.service.v1" && e.data.sessionAffinity === "None",
      "republished without source ranges",
    );
    expect(opened.data).not.toHaveProperty("loadBalancerSourceRanges");
  });

  it("publishes a tombstone when a Service leaves the LoadBalancer type", async () => {
    await createLoadBalancer(env.core, NS, "leaver", { ports: [{ port: 84 }] });
    const subject = subjects.service(C, NS, "leaver");
    const published = await waitForResource(subject, (e) => e.type === "io.sharedlb.service.v1", "published");
    await env.core.patchNamespacedService(
      { name: "leaver", namespace: NS, body: { spec: { type: "ClusterIP", loadBalancerClass: null } } },
      mergePatch,
    );
    const tomb = await waitForResource(subject, (e) => e.type === "io.sharedlb.deleted.v1", "tombstone");
    expect(tomb.data).toEqual({ cluster: C, kind: "service", namespace: NS, name: "leaver", uid: (published.data as { uid: string }).uid });
  });

  it("republishes what the stream lost at the next periodic resync", async () => {
    await createLoadBalancer(env.core, NS, "durable", { ports: [{ port: 87 }] });
    const subject = subjects.service(C, NS, "durable");
    const before = await waitForResource(subject, (e) => e.type === "io.sharedlb.service.v1", "published");
    await env.fx.jsm.streams.purge("LB_RESOURCES", { filter: subject });
    expect((await resources(env.fx)).has(subject)).toBe(false);
    const again = await waitForResource(subject, (e) => e.type === "io.sharedlb.service.v1", "republished by the resync");
    expect(again.data).toEqual(before.data);
  });

  it("releases Services deleted while it was down, once it is back", async () => {
    await createLoadBalancer(env.core, NS, "gone", { ports: [{ port: 85 }] });
    await waitFor("allocation of gone", async () => (await env.fx.allocations()).get(`${C}/${NS}/gone`)?.state === "Allocated");
    expect(await w1.stop()).toBe(0);
    await env.core.deleteNamespacedService({ name: "gone", namespace: NS });
    w1 = await env.startWatcher({ cluster: C, replica: "w1-again", extra: RESYNC });
    await waitForResource(subjects.service(C, NS, "gone"), (e) => e.type === "io.sharedlb.deleted.v1", "tombstone after restart");
    await waitFor("allocation Released", async () => (await env.fx.allocations()).get(`${C}/${NS}/gone`)?.state === "Released");
    // Its slot goes back to the pool: a new Service on the same port gets the only IP.
    await createLoadBalancer(env.core, NS, "reuse", { ports: [{ port: 85 }] });
    await waitFor("reuse allocated", async () => (await env.fx.allocations()).get(`${C}/${NS}/reuse`)?.state === "Allocated", 20_000);
  });

  it("hands over to the standby when the leader is killed; the standby never published before", async () => {
    const standby = await env.startWatcher({ cluster: C, replica: "w2", waitFor: /watcher started/ });
    const kc = new KubeConfig();
    kc.loadFromString(env.kube.adminKubeconfig);
    const leases = kc.makeApiClient(CoordinationV1Api);
    const lease = await leases.readNamespacedLease({ name: `sharedlb-watcher-${C}`, namespace: SYSTEM_NS });
    expect(lease.spec?.holderIdentity).toBe("w1-again");
    expect(standby.output()).not.toMatch(/became leader|watcher publishing/);

    await w1.kill();
    await standby.waitForOutput(/watcher publishing/, 20_000);
    const after = await leases.readNamespacedLease({ name: `sharedlb-watcher-${C}`, namespace: SYSTEM_NS });
    expect(after.spec?.holderIdentity).toBe("w2");
    await createLoadBalancer(env.core, NS, "after-handover", { ports: [{ port: 86 }] });
    await waitForResource(
      subjects.service(C, NS, "after-handover"),
      (e) => e.type === "io.sharedlb.service.v1",
      "published by the new leader",
    );
  });
});
