import type { V1Service } from "@kubernetes/client-node";
import { ENDPOINT_TYPE, type envoy, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import { waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAs, SotwEnvoy } from "../../../../services/xds-gateway/src/test-support/fake-envoy.js";
import { type GatewayProcess, startGateway, writeFleetFile } from "../../../../services/xds-gateway/src/test-support/gateway-process.js";
import { createNode } from "../l7/harness.js";
import { CLASS, condition, createNamespace, eventsFor, mergePatch, startTenantEnv, type TenantEnv, waitForService } from "./harness.js";

// Issue 10 item 5 ("the tenant is told why") and issue 12 item 6 (UDP under source ranges),
// end to end with real processes: a tenant Node at a loopback or metadata address is never
// an Envoy upstream, and the tenant sees it in its own cluster (an Event on the Node, a
// condition on the Service); a UDP port that cannot honour loadBalancerSourceRanges gets a
// condition and an Event. Kubernetes API → watcher → allocator → xds-gateway → lb.programmed
// → status-reporter → Kubernetes API. The fleet file has no allowLoopback: the built-in rules apply.

const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.20-203.0.113.21"]
defaultPool: public
releaseDelaySeconds: 1
`;
const C = "tenant-told";
const NS = "shop";
const NODES_SERVED = "sharedlb.io/NodesServed";
const SOURCE_RANGES = "sharedlb.io/SourceRangesEnforced";
const NEVER_SERVED = ["127.0.0.1", "169.254.169.254"];

type Cla = envoy.config.endpoint.v3.ClusterLoadAssignment;
const seen: Cla[] = [];

/** A fake Envoy that also keeps every ClusterLoadAssignment it was sent. */
class WatchingEnvoy extends SotwEnvoy {
  protected override validate(typeUrl: ResourceTypeUrl, items: readonly Uint8Array[], clusters: ReadonlySet<string>): void {
    if (typeUrl === ENDPOINT_TYPE) for (const b of items) seen.push(decodeAs(ENDPOINT_TYPE, b));
    super.validate(typeUrl, items, clusters);
  }
}

let env: TenantEnv;
let gw: GatewayProcess;
let envoyClient: WatchingEnvoy;

async function moveNode(name: string, ip: string): Promise<void> {
  await env.core.patchNodeStatus({ name, body: { status: { addresses: [{ type: "InternalIP", address: ip }] } } }, mergePatch);
}

function createService(name: string, spec: Partial<NonNullable<V1Service["spec"]>>): Promise<V1Service> {
  return env.core.createNamespacedService({
    namespace: NS,
    body: { metadata: { name }, spec: { type: "LoadBalancer", loadBalancerClass: CLASS, selector: { app: name }, ...spec } },
  });
}

const conditionOf = (s: V1Service, type: string) => (s.status?.conditions ?? []).find((c) => c.type === type);

const addressesIn = (cla: Cla | undefined) =>
  (cla?.endpoints ?? []).flatMap((l) => (l.lbEndpoints ?? []).map((e) => e.endpoint?.address?.socketAddress?.address ?? "")).sort();

/** The Events regarding a Node (cluster-scoped objects' Events live in `default`). */
async function nodeEvents(name: string) {
  const list = await env.core.listNamespacedEvent({
    namespace: "default",
    fieldSelector: `involvedObject.kind=Node,involvedObject.name=${name}`,
  });
  return list.items;
}

beforeAll(async () => {
  env = await startTenantEnv();
  await createNamespace(env.core, NS);
  await createNode(env.core, "good", "10.0.0.1");
  await createNode(env.core, "self", "127.0.0.1");
  await createNode(env.core, "metadata", "169.254.169.254");
  await env.startAllocator(POOLS);
  await env.startWatcher({ cluster: C, replica: "w1" });
  await env.startReporter({ cluster: C, replica: "r1" });
  gw = await startGateway(env.nats.url, writeFleetFile("fleets:\n  - { name: edge, pools: [public] }\n"), "gw-told");
  envoyClient = new WatchingEnvoy(gw.grpc, { id: "envoy-1", cluster: "edge" }).start();
});

afterAll(async () => {
  envoyClient?.close();
  await gw?.stop();
  await env?.stop();
});

describe("the tenant is told what the gateway refuses", () => {
  it("never serves a Node at 127.0.0.1 or 169.254.169.254, and says so on the Node (Event) and the Service (condition); fixing the address clears it", async () => {
    const created = await createService("web", { ports: [{ name: "http", port: 80, protocol: "TCP" }] });
    const nodePort = created.spec?.ports?.[0]?.nodePort;
    const cla = `${C}/${NS}/web/tcp-80`;

    const refused = await waitForService(
      env.core,
      NS,
      "web",
      (s) => conditionOf(s, NODES_SERVED)?.status === "False" && condition(s)?.status === "True",
      "NodesServed False",
      60_000,
    );
    const nodesServed = conditionOf(refused, NODES_SERVED);
    expect(nodesServed?.reason).toBe("AddressRefused");
    expect(nodesServed?.message).toContain("Node self is not served: address 127.0.0.1 is loopback");
    expect(nodesServed?.message).toContain("Node metadata is not served: address 169.254.169.254 is link-local");
    expect(nodesServed?.message).not.toContain("good");

    await waitFor(
      "the Envoy to hold web's endpoints",
      () => addressesIn(envoyClient.resources(ENDPOINT_TYPE).get(cla)).join() === "10.0.0.1",
      30_000,
    );
    expect(
      envoyClient.resources(ENDPOINT_TYPE).get(cla)?.endpoints?.[0]?.lbEndpoints?.[0]?.endpoint?.address?.socketAddress?.portValue,
    ).toBe(nodePort);

    for (const [name, address] of [
      ["self", "127.0.0.1"],
      ["metadata", "169.254.169.254"],
    ] as const) {
      const uid = (await env.core.readNode({ name })).metadata?.uid;
      const ev = await waitFor(`an AddressRefused Event on Node ${name}`, async () =>
        (await nodeEvents(name)).find((e) => e.reason === "AddressRefused"),
      );
      expect(ev).toMatchObject({
        type: "Warning",
        reportingComponent: "sharedlb.io/status-reporter",
        involvedObject: { kind: "Node", name, uid },
      });
      expect(ev.message).toContain(address);
    }
    expect(await nodeEvents("good")).toEqual([]);

    // The tenant fixes one address: that Node joins, the condition names only the other one.
    await moveNode("self", "10.0.0.2");
    const partly = await waitForService(
      env.core,
      NS,
      "web",
      (s) => conditionOf(s, NODES_SERVED)?.message?.includes("127.0.0.1") === false,
      "NodesServed without self",
      30_000,
    );
    expect(conditionOf(partly, NODES_SERVED)).toMatchObject({ status: "False", reason: "AddressRefused" });
    expect(conditionOf(partly, NODES_SERVED)?.message).toContain("169.254.169.254");
    await waitFor("self served", () => addressesIn(envoyClient.resources(ENDPOINT_TYPE).get(cla)).join() === "10.0.0.1,10.0.0.2", 30_000);

    // And the other: the condition goes.
    await moveNode("metadata", "10.0.0.3");
    const fixed = await waitForService(
      env.core,
      NS,
      "web",
      (s) => conditionOf(s, NODES_SERVED) === undefined,
      "NodesServed cleared",
      30_000,
    );
    expect(condition(fixed)?.status).toBe("True");
    await waitFor(
      "every node served",
      () => addressesIn(envoyClient.resources(ENDPOINT_TYPE).get(cla)).join() === "10.0.0.1,10.0.0.2,10.0.0.3",
      30_000,
    );
    // Not once, in any response, an upstream at a refused address.
    expect(seen.flatMap(addressesIn).filter((a) => NEVER_SERVED.includes(a))).toEqual([]);
    expect(envoyClient.errors).toEqual([]);
  });

  it("gives a Service whose UDP port cannot honour loadBalancerSourceRanges a condition and an Event naming the port, and clears it when the ranges go", async () => {
    await createService("dns", {
      ports: [
        { name: "dns-tcp", port: 53, protocol: "TCP" },
        { name: "dns-udp", port: 53, protocol: "UDP" },
      ],
      loadBalancerSourceRanges: ["10.1.0.0/16"],
    });
    const svc = await waitForService(
      env.core,
      NS,
      "dns",
      (s) => conditionOf(s, SOURCE_RANGES)?.status === "False",
      "SourceRangesEnforced False",
      60_000,
    );
    expect(conditionOf(svc, SOURCE_RANGES)).toMatchObject({ reason: "UDPUnsupported", message: expect.stringContaining("53/UDP") });
    // The port stays allocated (the address is the tenant's), but only TCP is served.
    expect(condition(svc)).toMatchObject({ status: "True", reason: "Allocated" });
    const ev = await waitFor("a UDPSourceRangesUnsupported Event", async () =>
      (await eventsFor(env.core, NS, "dns")).find((e) => e.reason === "UDPSourceRangesUnsupported"),
    );
    expect(ev).toMatchObject({ type: "Warning", involvedObject: { kind: "Service", name: "dns", uid: svc.metadata?.uid } });
    expect(ev.message).toContain("53/UDP");

    await env.core.patchNamespacedService({ name: "dns", namespace: NS, body: { spec: { loadBalancerSourceRanges: null } } }, mergePatch);
    const open = await waitForService(
      env.core,
      NS,
      "dns",
      (s) => conditionOf(s, SOURCE_RANGES) === undefined,
      "SourceRangesEnforced cleared",
      30_000,
    );
    expect(condition(open)?.status).toBe("True");
  });
});
