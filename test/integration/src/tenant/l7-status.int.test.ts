import { CustomObjectsApi, KubeConfig, NetworkingV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ManagedProcess, waitFor } from "@sharedlb/testing";
import {
  conflictedListener,
  gatewayListener,
  gatewayResource,
  l7Allocation,
  listenerAllocation,
  programmed,
  refusedRef,
  routeResource,
} from "../../../../services/status-reporter/src/test-support/l7-fixtures.js";
import {
  publishGateway,
  publishL7Allocation,
  publishL7Tombstone,
  publishProgrammed,
  publishRoute,
} from "../../../../services/status-reporter/src/test-support/l7-publish.js";
import { createNamespace, eventsFor, mergePatch, startTenantEnv, type TenantEnv } from "./harness.js";

// The status-reporter as an OS process, with the ServiceAccount and RBAC of
// deploy/k8s/tenant, against a real kube-apiserver with the Gateway API CRDs and a real
// nats-server. The test plays the watcher, the allocator and the xds-gateway: it publishes
// normalized Gateways and routes, L7 allocations and programmed reports as they would.

const C = "tenant-a";
const NS = "shop";
const GROUP = "gateway.networking.k8s.io";
const CONTROLLER = "sharedlb.io/gateway-controller";
const ENVOY_TEXT = "Proto constraint validation failed (RouteValidationError.Match: value is required)";

let env: TenantEnv;
let reporter: ManagedProcess;
let custom: CustomObjectsApi;
let networking: NetworkingV1Api;

type Cond = { type: string; status: string; reason: string; message: string; observedGeneration: number };
type Obj = {
  metadata: { uid: string; generation: number; resourceVersion: string };
  status?: {
    addresses?: { type: string; value: string }[];
    conditions?: Cond[];
    listeners?: { name: string; attachedRoutes: number; supportedKinds: { kind: string }[]; conditions: Cond[] }[];
    parents?: { controllerName: string; parentRef: Record<string, unknown>; conditions: Cond[] }[];
  };
};

const cond = (conds: Cond[] | undefined, type: string) => conds?.find((c) => c.type === type);

function create(plural: string, body: Record<string, unknown>): Promise<Obj> {
  return custom.createNamespacedCustomObject({ group: GROUP, version: "v1", namespace: NS, plural, body }) as Promise<Obj>;
}

function get(plural: string, name: string): Promise<Obj> {
  return custom.getNamespacedCustomObject({ group: GROUP, version: "v1", namespace: NS, plural, name }) as Promise<Obj>;
}

/** Polls an object until `ok` holds; the failure names what was last seen. */
async function waitForObject(plural: string, name: string, ok: (o: Obj) => boolean, what: string): Promise<Obj> {
  let last: Obj | undefined;
  return waitFor(
    `${plural}/${name}: ${what}`,
    async () => {
      last = await get(plural, name);
      return ok(last) ? last : undefined;
    },
    30_000,
    50,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen status=${JSON.stringify(last?.status)}`);
  });
}

beforeAll(async () => {
  env = await startTenantEnv({ gatewayApiCrds: true });
  const kc = new KubeConfig();
  kc.loadFromString(env.kube.adminKubeconfig);
  custom = kc.makeApiClient(CustomObjectsApi);
  networking = kc.makeApiClient(NetworkingV1Api);
  await createNamespace(env.core, NS);
  await custom.createClusterCustomObject({
    group: GROUP,
    version: "v1",
    plural: "gatewayclasses",
    body: { apiVersion: `${GROUP}/v1`, kind: "GatewayClass", metadata: { name: "sharedlb" }, spec: { controllerName: CONTROLLER } },
  });
  reporter = await env.startReporter({ cluster: C, replica: "r1", waitFor: /L7 state replayed/ });
});

afterAll(async () => {
  await env?.stop();
});

describe("L7 status written back by the status-reporter", () => {
  let gatewayUid = "";

  it("gives a Gateway its address, Accepted, listener conditions incl. Conflicted=HostnameConflict and an Event; Programmed False with Envoy's text on a NACK, True once ACKed", async () => {
    const gw = await create("gateways", {
      apiVersion: `${GROUP}/v1`,
      kind: "Gateway",
      metadata: { name: "edge" },
      spec: {
        gatewayClassName: "sharedlb",
        listeners: [
          { name: "http", protocol: "HTTP", port: 80, hostname: "shop.example.com" },
          { name: "taken", protocol: "HTTP", port: 80, hostname: "bank.example.com" },
        ],
      },
    });
    gatewayUid = gw.metadata.uid;
    const g = gw.metadata.generation;
    await publishGateway(
      env.fx.js,
      gatewayResource(C, NS, "edge", {
        uid: gatewayUid,
        generation: g,
        listeners: [gatewayListener("http", { hostname: "shop.example.com" }), gatewayListener("taken", { hostname: "bank.example.com" })],
      }),
    );
    await publishL7Allocation(
      env.fx.js,
      l7Allocation(C, "gateway", NS, "edge", gatewayUid, [listenerAllocation("http"), conflictedListener("taken", "bank.example.com")], {
        generation: g,
      }),
    );
    await publishProgrammed(
      env.fx.js,
      programmed(C, "gateway", NS, "edge", g, {
        acked: 1,
        nacked: 1,
        errorDetail: { typeUrl: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", node: "envoy-2", message: ENVOY_TEXT },
      }),
    );

    const nacked = await waitForObject(
      "gateways",
      "edge",
      (o) => cond(o.status?.conditions, "Programmed")?.status === "False",
      "Programmed False",
    );
    expect(nacked.status?.addresses).toEqual([{ type: "IPAddress", value: "203.0.113.10" }]);
    expect(cond(nacked.status?.conditions, "Accepted")).toMatchObject({ status: "True", observedGeneration: g });
    expect(cond(nacked.status?.conditions, "Programmed")).toMatchObject({
      reason: "Invalid",
      message: expect.stringContaining(ENVOY_TEXT),
    });
    const [http, taken] = nacked.status?.listeners ?? [];
    expect(http?.name).toBe("http");
    expect(cond(http?.conditions, "Accepted")?.status).toBe("True");
    expect(cond(http?.conditions, "Conflicted")).toMatchObject({ status: "False", reason: "NoConflicts" });
    expect(http?.supportedKinds.map((k) => k.kind)).toEqual(["HTTPRoute", "GRPCRoute"]);
    expect(cond(taken?.conditions, "Conflicted")).toMatchObject({
      status: "True",
      reason: "HostnameConflict",
      message: expect.stringContaining("bank.example.com"),
    });
    expect(cond(taken?.conditions, "Accepted")?.status).toBe("False");
    for (const c of [...(nacked.status?.conditions ?? []), ...(http?.conditions ?? []), ...(taken?.conditions ?? [])])
      expect(c.observedGeneration).toBe(g);

    const events = await waitFor("HostnameConflict and ConfigurationRejected Events on the Gateway", async () => {
      const evs = await eventsFor(env.core, NS, "edge");
      return evs.some((e) => e.reason === "HostnameConflict") && evs.some((e) => e.reason === "ConfigurationRejected") ? evs : undefined;
    });
    expect(events.find((e) => e.reason === "HostnameConflict")).toMatchObject({
      type: "Warning",
      involvedObject: { kind: "Gateway", name: "edge", uid: gatewayUid },
      message: expect.stringContaining("bank.example.com"),
    });
    expect(events.find((e) => e.reason === "ConfigurationRejected")?.message).toContain(ENVOY_TEXT);

    await publishProgrammed(env.fx.js, programmed(C, "gateway", NS, "edge", g, { acked: 2 }));
    const acked = await waitForObject(
      "gateways",
      "edge",
      (o) => cond(o.status?.conditions, "Programmed")?.status === "True",
      "Programmed True",
    );
    expect(cond(acked.status?.listeners?.[0]?.conditions, "Programmed")?.status).toBe("True");
    expect(cond(acked.status?.conditions, "Programmed")?.observedGeneration).toBe(g);
  });

  it("marks the GatewayClass of its controller Accepted", async () => {
    const gc = await waitFor("GatewayClass Accepted", async () => {
      const o = (await custom.getClusterCustomObject({ group: GROUP, version: "v1", plural: "gatewayclasses", name: "sharedlb" })) as Obj;
      return cond(o.status?.conditions, "Accepted")?.status === "True" ? o : undefined;
    });
    expect(cond(gc.status?.conditions, "Accepted")?.observedGeneration).toBe(gc.metadata.generation);
  });

  it("writes its HTTPRoute parents entry with observedGeneration of the updated route, leaves another controller's entry alone, and counts it on the listener", async () => {
    const route = await create("httproutes", {
      apiVersion: `${GROUP}/v1`,
      kind: "HTTPRoute",
      metadata: { name: "web" },
      spec: { parentRefs: [{ name: "theirs" }, { name: "edge", sectionName: "http" }], hostnames: ["shop.example.com"] },
    });
    // Another controller (its Gateway "theirs") already reported on the route.
    const theirs = {
      controllerName: "example.com/other-controller",
      parentRef: { group: GROUP, kind: "Gateway", name: "theirs" },
      conditions: [
        {
          type: "Accepted",
          status: "True",
          reason: "Accepted",
          message: "theirs",
          observedGeneration: 1,
          lastTransitionTime: "2026-01-01T00:00:00Z",
        },
      ],
    };
    await custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: "v1", namespace: NS, plural: "httproutes", name: "web", body: { status: { parents: [theirs] } } },
      mergePatch,
    );
    const uid = route.metadata.uid;
    const attached = [{ namespace: NS, name: "edge", sectionName: "http" }];
    await publishRoute(env.fx.js, routeResource(C, NS, "web", attached, { uid, generation: 1 }));
    const first = await waitForObject(
      "httproutes",
      "web",
      (o) => (o.status?.parents ?? []).some((p) => p.controllerName === CONTROLLER),
      "sharedlb parents entry",
    );
    expect(first.status?.parents?.find((p) => p.controllerName === CONTROLLER)).toMatchObject({
      parentRef: { name: "edge", sectionName: "http" },
    });
    await waitForObject("gateways", "edge", (o) => o.status?.listeners?.[0]?.attachedRoutes === 1, "attachedRoutes 1 on listener http");

    // The tenant edits the route: generation 2; the watcher and the fleet follow.
    await custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: "v1",
        namespace: NS,
        plural: "httproutes",
        name: "web",
        body: { spec: { hostnames: ["shop.example.com", "www.shop.example.com"] } },
      },
      mergePatch,
    );
    const edited = await get("httproutes", "web");
    expect(edited.metadata.generation).toBe(2);
    await publishRoute(
      env.fx.js,
      routeResource(C, NS, "web", attached, {
        uid,
        generation: 2,
        hostnames: ["shop.example.com", "www.shop.example.com"],
        refusedRefs: [refusedRef({ reason: "BackendNotFound", name: "gone", message: "Service shop/gone does not exist" })],
      }),
    );
    await publishProgrammed(env.fx.js, programmed(C, "httproute", NS, "web", 2));
    const ours = (o: Obj) => o.status?.parents?.find((p) => p.controllerName === CONTROLLER);
    const second = await waitForObject(
      "httproutes",
      "web",
      (o) =>
        (ours(o)?.conditions ?? []).every((c) => c.observedGeneration === 2) && cond(ours(o)?.conditions, "Programmed")?.status === "True",
      "conditions at generation 2, Programmed True",
    );
    expect(ours(second)?.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration])).toEqual([
      ["Accepted", "True", "Accepted", 2],
      ["ResolvedRefs", "False", "BackendNotFound", 2],
      ["Programmed", "True", "Programmed", 2],
    ]);
    expect(second.status?.parents?.find((p) => p.controllerName !== CONTROLLER)).toEqual(theirs);
    await waitFor("BackendNotFound Event on the route", async () =>
      (await eventsFor(env.core, NS, "web")).find((e) => e.reason === "BackendNotFound"),
    );
  });

  it("gives an Ingress status.loadBalancer, and removes it when the allocation is Released", async () => {
    const ing = await networking.createNamespacedIngress({
      namespace: NS,
      body: {
        metadata: { name: "shop" },
        spec: {
          ingressClassName: "sharedlb",
          rules: [
            {
              host: "shop.example.com",
              http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] },
            },
          ],
        },
      },
    });
    const uid = ing.metadata?.uid ?? "";
    await publishRoute(env.fx.js, routeResource(C, NS, "shop", [], { uid, sourceKind: "Ingress" }));
    await publishL7Allocation(env.fx.js, l7Allocation(C, "ingress", NS, "shop", uid, [listenerAllocation("http", { ip: "203.0.113.11" })]));
    await waitFor("Ingress status.loadBalancer", async () => {
      const o = await networking.readNamespacedIngress({ name: "shop", namespace: NS });
      return o.status?.loadBalancer?.ingress?.[0]?.ip === "203.0.113.11" ? o : undefined;
    });
    await publishL7Allocation(env.fx.js, l7Allocation(C, "ingress", NS, "shop", uid, [], { state: "Released" }));
    await waitFor("Ingress status.loadBalancer removed", async () => {
      const o = await networking.readNamespacedIngress({ name: "shop", namespace: NS });
      return (o.status?.loadBalancer?.ingress ?? []).length === 0 ? o : undefined;
    });
  });

  it("writes nothing after a restart when nothing changed", async () => {
    const before = await Promise.all([get("gateways", "edge"), get("httproutes", "web")]);
    await reporter.stop(5_000);
    reporter = await env.startReporter({ cluster: C, replica: "r2", waitFor: /L7 state replayed/ });
    const http = (await reporter.waitForOutput(/"http":"([^"]+)"/))[1] ?? "";
    const passes = (text: string, kind: string, outcome: string) => {
      const line = text
        .split("\n")
        .find(
          (l) =>
            l.startsWith("sharedlb_status_reporter_l7_passes_total{") && l.includes(`kind="${kind}"`) && l.includes(`outcome="${outcome}"`),
        );
      return line ? Number(line.split(" ").pop()) : 0;
    };
    const text = await waitFor("the restarted reporter's passes over the Gateway and the route", async () => {
      const t = await (await fetch(`http://${http}/metrics`)).text();
      return passes(t, "gateway", "Unchanged") >= 1 && passes(t, "httproute", "Unchanged") >= 1 ? t : undefined;
    });
    expect(passes(text, "gateway", "Written")).toBe(0);
    expect(passes(text, "httproute", "Written")).toBe(0);
    const after = await Promise.all([get("gateways", "edge"), get("httproutes", "web")]);
    expect(after.map((o) => o.metadata.resourceVersion)).toEqual(before.map((o) => o.metadata.resourceVersion));
  });

  it("removes what it wrote when the route and the Gateway leave sharedlb, and only that", async () => {
    const route = await get("httproutes", "web");
    await publishL7Tombstone(env.fx.js, C, "httproute", NS, "web", route.metadata.uid);
    const cleared = await waitForObject(
      "httproutes",
      "web",
      (o) => !(o.status?.parents ?? []).some((p) => p.controllerName === CONTROLLER),
      "sharedlb parents entry removed",
    );
    expect(cleared.status?.parents).toHaveLength(1);
    expect(cleared.status?.parents?.[0]?.controllerName).toBe("example.com/other-controller");

    await publishL7Tombstone(env.fx.js, C, "gateway", NS, "edge", gatewayUid);
    const gw = await waitForObject("gateways", "edge", (o) => (o.status?.addresses ?? []).length === 0, "addresses removed");
    expect(gw.status?.listeners ?? []).toEqual([]);
    expect(cond(gw.status?.conditions, "Programmed")).toMatchObject({ status: "Unknown", reason: "Pending" });
    expect(reporter.output()).not.toMatch(/L7 status write failed|message not applied/);
  });
});
