import { subjects } from "@sharedlb/contracts";
import type { ManagedProcess } from "@sharedlb/testing";
import { installGatewayApiCrds } from "@sharedlb/testing/kube";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLoadBalancer, createNamespace, startTenantEnv, type TenantEnv } from "./harness.js";
import { backendService, createGatewayApi, createSharedlbIngress, waitForResource } from "./l7-helpers.js";

// A tenant cluster without the Gateway API CRDs: the watcher serves Services and Ingresses,
// says once that the Gateway API is absent, and starts watching it when the CRDs appear.

const C = "tenant-late";
const NS = "app";
let env: TenantEnv;
let watcher: ManagedProcess;

beforeAll(async () => {
  env = await startTenantEnv();
  await createNamespace(env.core, NS);
  watcher = await env.startWatcher({ cluster: C, replica: "w1", extra: ["--gateway-api-poll-max", "500ms"] });
});

afterAll(async () => {
  await env?.stop();
});

describe("watcher without the Gateway API", () => {
  it("serves Services and Ingresses, and picks up Gateways and routes once the CRDs are installed", async () => {
    await watcher.waitForOutput(/API resources not served by this cluster/, 20_000);
    await createLoadBalancer(env.core, NS, "l4");
    await waitForResource(env, subjects.service(C, NS, "l4"), (e) => e?.type === "io.sharedlb.service.v1", "L4 Service published");
    await backendService(env.core, NS, "web", "NodePort");
    await createSharedlbIngress(env, NS, "site", "site.example.com", "web");
    await waitForResource(env, subjects.l7Resource(C, "ingress", NS, "site"), (e) => e?.type === "io.sharedlb.route.v1", "Ingress published");

    await installGatewayApiCrds(env.kube);
    await createGatewayApi(env.kube, { kind: "GatewayClass", metadata: { name: "sharedlb" }, spec: { controllerName: "sharedlb.io/gateway-controller" } });
    await createGatewayApi(env.kube, {
      kind: "Gateway",
      metadata: { namespace: NS, name: "gw" },
      spec: { gatewayClassName: "sharedlb", listeners: [{ name: "http", protocol: "HTTP", port: 80 }] },
    });
    await createGatewayApi(env.kube, {
      kind: "HTTPRoute",
      metadata: { namespace: NS, name: "late" },
      spec: { parentRefs: [{ name: "gw" }], rules: [{ backendRefs: [{ name: "web", port: 8080 }] }] },
    });
    await waitForResource(env, subjects.l7Resource(C, "gateway", NS, "gw"), (e) => e?.type === "io.sharedlb.gateway.v1", "Gateway published");
    await waitForResource(env, subjects.l7Resource(C, "httproute", NS, "late"), (e) => e?.type === "io.sharedlb.route.v1", "HTTPRoute published");
    // Said once while absent, however often discovery was asked.
    expect(watcher.output().match(/API resources not served by this cluster/g)).toHaveLength(1);
    expect(watcher.child.exitCode).toBeNull();
  });
});
