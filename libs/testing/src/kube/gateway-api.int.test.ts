import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayApiCrds } from "./gateway-api.js";
import { type KubeApiserver, startKubeApiserver } from "./kube-apiserver.js";

// The Gateway API CRDs (tools/gateway-api, pinned release, standard channel) in a real
// kube-apiserver: the tenant-side L7 tests create their Gateways and routes in one.

const NS = "l7";
const GROUP = "/apis/gateway.networking.k8s.io/v1";
let kube: KubeApiserver;

beforeAll(async () => {
  kube = await startKubeApiserver({ gatewayApiCrds: true });
  const ns = await kube.request("/api/v1/namespaces", { method: "POST", body: { metadata: { name: NS } } });
  expect(ns.status).toBe(201);
}, 10 * 60_000);

afterAll(async () => {
  await kube?.stop();
});

const create = (resource: string, body: unknown, namespaced = true) =>
  kube.request(`${GROUP}${namespaced ? `/namespaces/${NS}` : ""}/${resource}`, { method: "POST", body });

describe("Gateway API CRDs in the test kube-apiserver", () => {
  it("are the standard channel of the pinned release, with every kind sharedlb serves", async () => {
    const crds = await gatewayApiCrds();
    const names = crds.map((c) => c.metadata.name);
    for (const kind of ["gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes", "referencegrants"]) {
      expect(names).toContain(`${kind}.gateway.networking.k8s.io`);
    }
    const gatewayCrd = (await kube.request("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gateways.gateway.networking.k8s.io")).body;
    expect(JSON.stringify(gatewayCrd)).toContain('"gateway.networking.k8s.io/channel":"standard"');
  });

  it("accept a GatewayClass, a Gateway and an HTTPRoute attached to it", async () => {
    const gc = await create(
      "gatewayclasses",
      { apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", metadata: { name: "sharedlb" }, spec: { controllerName: "sharedlb.io/gateway-controller" } },
      false,
    );
    expect(gc.status, gc.text).toBe(201);
    const gw = await create("gateways", {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "edge" },
      spec: { gatewayClassName: "sharedlb", listeners: [{ name: "http", protocol: "HTTP", port: 80, hostname: "*.example.com" }] },
    });
    expect(gw.status, gw.text).toBe(201);
    const route = await create("httproutes", {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "web.v2" },
      spec: {
        parentRefs: [{ name: "edge", sectionName: "http" }],
        hostnames: ["shop.example.com"],
        rules: [{ matches: [{ path: { type: "PathPrefix", value: "/api" } }], backendRefs: [{ name: "web", port: 8080, weight: 80 }] }],
      },
    });
    expect(route.status, route.text).toBe(201);
    const read = await kube.request(`${GROUP}/namespaces/${NS}/httproutes/web.v2`);
    expect(read.body).toMatchObject({ metadata: { generation: 1 }, spec: { hostnames: ["shop.example.com"] } });
  });

  it("enforce the release's validation, so tests meet what users' clusters reject", async () => {
    const bad = await create("httproutes", {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "bad-path" },
      spec: { parentRefs: [{ name: "edge" }], rules: [{ matches: [{ path: { type: "PathPrefix", value: "no-slash" } }] }] },
    });
    expect(bad.status).toBe(422);
    const badHost = await create("httproutes", {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "bad-host" },
      spec: { parentRefs: [{ name: "edge" }], hostnames: ["Not_A.Host"] },
    });
    expect(badHost.status).toBe(422);
  });
});
