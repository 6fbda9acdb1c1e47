import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Service } from "@kubernetes/client-node";
import {
  type AnyCloudEvent,
  decodeResourceMessage,
  generateSealingKeyPair,
  openPrivateKey,
  type RouteResource,
  sealedKeyContext,
  type SealingKeyPair,
  type SecretResource,
  subjects,
} from "@sharedlb/contracts";
import { type ManagedProcess, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selfSignedCert, type TestKeyPair } from "../../../../services/watcher/src/test-support/tls.js";
import { createNamespace, resources, startTenantEnv, SYSTEM_NS, type TenantEnv } from "./harness.js";
import { backendService, createGatewayApi, createSharedlbIngress, deleteGatewayApi, tlsSecretBody, waitForResource } from "./l7-helpers.js";

// The watcher as an OS process with the tenant RBAC of deploy/k8s/tenant, against a real
// kube-apiserver with the Gateway API CRDs (v1.7.0 standard channel) and a real NATS:
// what it publishes for Gateways, routes, Ingresses and TLS Secrets, and the NodePort
// companions it keeps for ClusterIP backends.

const C = "tenant-l7";
let env: TenantEnv;
let watcher: ManagedProcess;
let gatewayKey: SealingKeyPair;
let keyFile: string;
let valid: TestKeyPair;
let expired: TestKeyPair;
let stranger: TestKeyPair;
/** Every message on lb.> since the start, as text: no private key may ever be in one. */
const wire: string[] = [];
let tap: ReturnType<TenantEnv["fx"]["nc"]["subscribe"]>;

beforeAll(async () => {
  env = await startTenantEnv({ gatewayApiCrds: true });
  tap = env.fx.nc.subscribe("lb.>", {
    callback: (_err, m) => {
      wire.push(new TextDecoder().decode(m.data));
    },
  });
  gatewayKey = generateSealingKeyPair();
  keyFile = join(tmpdir(), `sharedlb-l7-sealing-${process.pid}.pem`);
  writeFileSync(keyFile, gatewayKey.publicKey.export({ type: "spki", format: "pem" }));
  valid = selfSignedCert(["shop.example.com", "*.shop.example.com"]);
  expired = selfSignedCert(["old.example.com"], { notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2020-01-02T00:00:00Z") });
  stranger = selfSignedCert(["shop.example.com"]);
  await createGatewayApi(env.kube, { kind: "GatewayClass", metadata: { name: "sharedlb" }, spec: { controllerName: "sharedlb.io/gateway-controller" } });
  await createGatewayApi(env.kube, { kind: "GatewayClass", metadata: { name: "other" }, spec: { controllerName: "example.com/other" } });
  watcher = await env.startWatcher({ cluster: C, replica: "w1", extra: ["--resync-interval", "2s", "--sealing-public-key", keyFile] });
});

afterAll(async () => {
  tap?.unsubscribe();
  await env?.stop();
});

const route = (e: AnyCloudEvent | undefined) => (e?.type === "io.sharedlb.route.v1" ? (e.data as RouteResource) : undefined);
const routeSubject = (kind: "httproute" | "grpcroute" | "tlsroute" | "ingress", ns: string, name: string) => subjects.l7Resource(C, kind, ns, name);

async function gatewayIn(ns: string, listeners: unknown[], name = "gw"): Promise<void> {
  await createGatewayApi(env.kube, { kind: "Gateway", metadata: { namespace: ns, name }, spec: { gatewayClassName: "sharedlb", listeners } });
}

describe("watcher L7", () => {
  it("runs with the least privilege of deploy/k8s/tenant: reads what it serves, writes only Services", async () => {
    const token = await env.kube.tokenFor(SYSTEM_NS, "sharedlb-watcher");
    const status = async (path: string, method = "GET", body?: unknown) => (await env.kube.request(path, { token, method, ...(body ? { body } : {}) })).status;
    for (const p of ["gateways", "gatewayclasses", "httproutes", "grpcroutes", "tlsroutes", "referencegrants"]) {
      expect(await status(`/apis/gateway.networking.k8s.io/v1/${p}`)).toBe(200);
    }
    expect(await status("/apis/networking.k8s.io/v1/ingresses")).toBe(200);
    expect(await status("/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Ftls")).toBe(200);
    expect(await status("/api/v1/namespaces/default/secrets", "POST", tlsSecretBody("x", { cert: "", key: "" }))).toBe(403);
    expect(await status("/api/v1/namespaces/default/configmaps", "POST", { metadata: { name: "x" } })).toBe(403);
    expect(await status("/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes", "POST", { metadata: { name: "x" }, spec: {} })).toBe(403);
    expect(await status("/api/v1/namespaces/default/services/kubernetes/status", "PATCH", {})).toBe(403);
  });

  it("publishes a Gateway with HTTPRoute, GRPCRoute and TLSRoute normalized", async () => {
    const ns = "shop";
    await createNamespace(env.core, ns);
    await backendService(env.core, ns, "web", "NodePort");
    const web = await env.core.readNamespacedService({ namespace: ns, name: "web" });
    const webNodePort = web.spec?.ports?.[0]?.nodePort;
    await env.core.createNamespacedSecret({ namespace: ns, body: tlsSecretBody("shop-tls", valid) });
    await gatewayIn(ns, [
      { name: "http", protocol: "HTTP", port: 80, hostname: "*.shop.example.com" },
      { name: "https", protocol: "HTTPS", port: 443, hostname: "*.shop.example.com", tls: { certificateRefs: [{ name: "shop-tls" }] } },
      { name: "tls", protocol: "TLS", port: 8443, tls: { mode: "Passthrough" } },
    ]);
    await createGatewayApi(env.kube, {
      kind: "HTTPRoute",
      metadata: { namespace: ns, name: "store" },
      spec: {
        parentRefs: [{ name: "gw", sectionName: "http" }, { name: "gw", sectionName: "https" }],
        hostnames: ["www.shop.example.com"],
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: "/cart" }, headers: [{ name: "x-beta", value: "1" }] }],
            filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-via", value: "sharedlb" }] } }],
            backendRefs: [{ name: "web", port: 8080, weight: 3 }],
            timeouts: { request: "10s" },
          },
        ],
      },
    });
    await createGatewayApi(env.kube, {
      kind: "GRPCRoute",
      metadata: { namespace: ns, name: "rpc" },
      spec: {
        parentRefs: [{ name: "gw", sectionName: "http" }],
        hostnames: ["grpc.shop.example.com"],
        rules: [{ matches: [{ method: { service: "shop.Cart", method: "Add" } }], backendRefs: [{ name: "web", port: 8080 }] }],
      },
    });
    await createGatewayApi(env.kube, {
      kind: "TLSRoute",
      metadata: { namespace: ns, name: "db" },
      spec: { parentRefs: [{ name: "gw", sectionName: "tls" }], hostnames: ["db.example.com"], rules: [{ backendRefs: [{ name: "web", port: 8080 }] }] },
    });

    const gw = await waitForResource(env, subjects.l7Resource(C, "gateway", ns, "gw"), (e) => e?.type === "io.sharedlb.gateway.v1", "published");
    expect(gw?.data).toMatchObject({
      cluster: C,
      namespace: ns,
      name: "gw",
      generation: 1,
      gatewayClassName: "sharedlb",
      refusedRefs: [],
      listeners: [
        { name: "http", protocol: "HTTP", port: 80, hostname: "*.shop.example.com", allowedRoutes: { allNamespaces: false, namespaces: [ns], kinds: ["HTTPRoute", "GRPCRoute"] } },
        { name: "https", protocol: "HTTPS", port: 443, tls: { mode: "Terminate", certificateRefs: [{ namespace: ns, name: "shop-tls" }] } },
        { name: "tls", protocol: "TLS", port: 8443, tls: { mode: "Passthrough", certificateRefs: [] }, allowedRoutes: { kinds: ["TLSRoute"] } },
      ],
    });
    const http = route(await waitForResource(env, routeSubject("httproute", ns, "store"), (e) => route(e) !== undefined, "published"));
    expect(http).toMatchObject({
      sourceKind: "HTTPRoute",
      generation: 1,
      hostnames: ["www.shop.example.com"],
      parentRefs: [
        { namespace: ns, name: "gw", sectionName: "http" },
        { namespace: ns, name: "gw", sectionName: "https" },
      ],
      refusedRefs: [],
    });
    expect(http?.rules).toEqual([
      {
        matches: [{ path: { type: "PathPrefix", value: "/cart" }, headers: [{ name: "x-beta", value: "1", type: "Exact" }] }],
        filters: [{ type: "RequestHeaderModifier", headers: { set: [{ name: "x-via", value: "sharedlb" }], add: [], remove: [] } }],
        backends: [{ namespace: ns, service: "web", port: 8080, weight: 3, nodePort: webNodePort }],
        timeouts: { requestMs: 10_000 },
      },
    ]);
    const grpc = route(await waitForResource(env, routeSubject("grpcroute", ns, "rpc"), (e) => route(e) !== undefined, "published"));
    expect(grpc?.rules[0]?.matches).toEqual([{ grpc: { type: "Exact", service: "shop.Cart", method: "Add" } }]);
    const tls = route(await waitForResource(env, routeSubject("tlsroute", ns, "db"), (e) => route(e) !== undefined, "published"));
    expect(tls).toMatchObject({ sourceKind: "TLSRoute", parentRefs: [{ name: "gw", sectionName: "tls" }], rules: [{ matches: [], backends: [{ service: "web", nodePort: webNodePort }] }] });
    // Every one of them passes the contract's checks on the consumer side.
    const all = [...(await resources(env.fx)).entries()].filter(([s]) => s.includes(`.${ns}.`));
    for (const [subject, event] of all) expect(() => decodeResourceMessage(subject, JSON.stringify(event))).not.toThrow();

    // A Gateway of another controller, and a route attached only to it, are not published.
    await createGatewayApi(env.kube, { kind: "Gateway", metadata: { namespace: ns, name: "theirs" }, spec: { gatewayClassName: "other", listeners: [{ name: "h", protocol: "HTTP", port: 80 }] } });
    await createGatewayApi(env.kube, { kind: "HTTPRoute", metadata: { namespace: ns, name: "theirs" }, spec: { parentRefs: [{ name: "theirs" }], rules: [{ backendRefs: [{ name: "web", port: 8080 }] }] } });
    // Deleting the route tombstones it; the class-less ones never appear meanwhile.
    await deleteGatewayApi(env.kube, "TLSRoute", ns, "db");
    await waitForResource(env, routeSubject("tlsroute", ns, "db"), (e) => e?.type === "io.sharedlb.deleted.v1", "tombstoned");
    const after = await resources(env.fx);
    expect(after.has(subjects.l7Resource(C, "gateway", ns, "theirs"))).toBe(false);
    expect(after.has(routeSubject("httproute", ns, "theirs"))).toBe(false);
  });

  it("refuses a cross-namespace backend without a ReferenceGrant and serves it once granted", async () => {
    await createNamespace(env.core, "front");
    await createNamespace(env.core, "back");
    await backendService(env.core, "back", "auth", "NodePort");
    await gatewayIn("front", [{ name: "http", protocol: "HTTP", port: 80, allowedRoutes: { namespaces: { from: "All" } } }]);
    await createGatewayApi(env.kube, {
      kind: "HTTPRoute",
      metadata: { namespace: "front", name: "login" },
      spec: { parentRefs: [{ name: "gw" }], hostnames: ["login.example.com"], rules: [{ backendRefs: [{ name: "auth", namespace: "back", port: 8080 }] }] },
    });
    const refused = route(await waitForResource(env, routeSubject("httproute", "front", "login"), (e) => route(e) !== undefined, "published"));
    expect(refused?.rules).toEqual([{ matches: [{ path: { type: "PathPrefix", value: "/" } }], filters: [], backends: [] }]);
    expect(refused?.refusedRefs).toEqual([
      expect.objectContaining({ field: "spec.rules[0].backendRefs[0]", kind: "Service", namespace: "back", name: "auth", reason: "RefNotPermitted" }),
    ]);
    await createGatewayApi(env.kube, {
      kind: "ReferenceGrant",
      metadata: { namespace: "back", name: "front-routes" },
      spec: { from: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "front" }], to: [{ group: "", kind: "Service", name: "auth" }] },
    });
    const granted = route(await waitForResource(env, routeSubject("httproute", "front", "login"), (e) => (route(e)?.rules[0]?.backends.length ?? 0) > 0, "backend accepted"));
    expect(granted?.refusedRefs).toEqual([]);
    expect(granted?.rules[0]?.backends[0]).toMatchObject({ namespace: "back", service: "auth", port: 8080 });
  });

  it("keeps a NodePort companion for a ClusterIP backend, and removes it when the route goes", async () => {
    const ns = "cmp";
    await createNamespace(env.core, ns);
    await backendService(env.core, ns, "api", "ClusterIP", "kubernetes.io/h2c");
    await gatewayIn(ns, [{ name: "http", protocol: "HTTP", port: 80 }]);
    await createGatewayApi(env.kube, { kind: "HTTPRoute", metadata: { namespace: ns, name: "api" }, spec: { parentRefs: [{ name: "gw" }], rules: [{ backendRefs: [{ name: "api", port: 8080 }] }] } });
    const published = route(
      await waitForResource(env, routeSubject("httproute", ns, "api"), (e) => (route(e)?.rules[0]?.backends[0]?.nodePort ?? 0) > 0, "backend with the companion's NodePort"),
    );
    const backend = published?.rules[0]?.backends[0];
    expect(backend).toMatchObject({ namespace: ns, service: "api", port: 8080, appProtocol: "kubernetes.io/h2c" });
    expect(backend?.companion).toMatch(/^sharedlb-[0-9a-f]{10}$/);
    const companion = await env.core.readNamespacedService({ namespace: ns, name: backend?.companion ?? "" });
    expect(companion.spec?.type).toBe("NodePort");
    expect(companion.spec?.selector).toEqual({ app: "api" });
    expect(companion.spec?.ports?.[0]).toMatchObject({ port: 8080, targetPort: 8080, nodePort: backend?.nodePort });
    const routeUid = JSON.parse((await env.kube.request(`/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes/api`)).text).metadata.uid;
    expect(companion.metadata?.ownerReferences).toEqual([expect.objectContaining({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", name: "api", uid: routeUid })]);

    await deleteGatewayApi(env.kube, "HTTPRoute", ns, "api");
    await waitForResource(env, routeSubject("httproute", ns, "api"), (e) => e?.type === "io.sharedlb.deleted.v1", "tombstoned");
    await waitFor(
      "companion deleted",
      async () => ((await env.core.listNamespacedService({ namespace: ns })).items.some((s: V1Service) => s.metadata?.name === backend?.companion) ? undefined : true),
      20_000,
      100,
    );
    // The backend itself is the tenant's: untouched.
    expect((await env.core.readNamespacedService({ namespace: ns, name: "api" })).spec?.type).toBe("ClusterIP");
  });

  it("publishes a referenced TLS Secret sealed, and refuses invalid or expired ones on the listener", async () => {
    const ns = "tls";
    await createNamespace(env.core, ns);
    await env.core.createNamespacedSecret({ namespace: ns, body: tlsSecretBody("good", valid) });
    await env.core.createNamespacedSecret({ namespace: ns, body: tlsSecretBody("old", expired) });
    await env.core.createNamespacedSecret({ namespace: ns, body: tlsSecretBody("mixed", { cert: valid.cert, key: stranger.key }) });
    await env.core.createNamespacedSecret({ namespace: ns, body: tlsSecretBody("unused", valid) });
    await gatewayIn(ns, [
      { name: "https", protocol: "HTTPS", port: 443, hostname: "shop.example.com", tls: { certificateRefs: [{ name: "good" }, { name: "old" }, { name: "mixed" }] } },
    ]);
    const gw = await waitForResource(env, subjects.l7Resource(C, "gateway", ns, "gw"), (e) => e?.type === "io.sharedlb.gateway.v1", "published");
    const data = gw?.data as { listeners: { tls?: { certificateRefs: unknown[] } }[]; refusedRefs: { name: string; reason: string; message: string }[] };
    expect(data.listeners[0]?.tls?.certificateRefs).toEqual([{ namespace: ns, name: "good" }]);
    expect(data.refusedRefs.map((r) => [r.name, r.reason])).toEqual([
      ["old", "InvalidCertificateRef"],
      ["mixed", "InvalidCertificateRef"],
    ]);
    expect(data.refusedRefs[0]?.message).toMatch(/expired/);
    expect(data.refusedRefs[1]?.message).toMatch(/does not belong to the certificate/);

    const sealed = await waitForResource(env, subjects.l7Resource(C, "secret", ns, "good"), (e) => e?.type === "io.sharedlb.secret.v1", "published");
    const secret = sealed?.data as SecretResource;
    expect(secret.dnsNames).toEqual(["*.shop.example.com", "shop.example.com"]);
    expect(secret.privateKey.keyId).toBe(gatewayKey.keyId);
    // Only the gateways' private half opens it, for this Secret only.
    const opened = openPrivateKey(secret.privateKey, [gatewayKey], sealedKeyContext(C, ns, "good")).toString();
    expect(opened).toContain("BEGIN PRIVATE KEY");
    expect(() => openPrivateKey(secret.privateKey, [gatewayKey], sealedKeyContext(C, ns, "unused"))).toThrow();
    const all = await resources(env.fx);
    for (const name of ["old", "mixed", "unused"]) expect(all.has(subjects.l7Resource(C, "secret", ns, name))).toBe(false);

    // Nothing on the wire and nothing the watcher logged holds a private key.
    const keyBody = valid.key.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
    for (const text of [...wire, watcher.output()]) {
      expect(text).not.toContain("PRIVATE KEY");
      expect(text).not.toContain(keyBody.slice(0, 40));
      expect(text).not.toContain(Buffer.from(valid.key).toString("base64").slice(0, 40));
    }
    expect(wire.length).toBeGreaterThan(0);

    // The Gateway going away takes the Secret off the wire (tombstone).
    await deleteGatewayApi(env.kube, "Gateway", ns, "gw");
    await waitForResource(env, subjects.l7Resource(C, "secret", ns, "good"), (e) => e?.type === "io.sharedlb.deleted.v1", "tombstoned");
  });

  it("refuses a bad rule and a missing backend on that route only; the other routes stay served", async () => {
    const ns = "bad";
    await createNamespace(env.core, ns);
    await backendService(env.core, ns, "web", "NodePort");
    await gatewayIn(ns, [{ name: "http", protocol: "HTTP", port: 80 }]);
    await createGatewayApi(env.kube, {
      kind: "HTTPRoute",
      metadata: { namespace: ns, name: "mixed" },
      spec: {
        parentRefs: [{ name: "gw", sectionName: "http" }, { name: "gw", sectionName: "nope" }],
        rules: [
          { matches: [{ path: { type: "RegularExpression", value: "/(?!admin).*" } }], backendRefs: [{ name: "web", port: 8080 }] },
          { matches: [{ path: { type: "PathPrefix", value: "/ok" } }], backendRefs: [{ name: "web", port: 8080 }, { name: "ghost", port: 8080 }] },
        ],
      },
    });
    await createGatewayApi(env.kube, { kind: "HTTPRoute", metadata: { namespace: ns, name: "fine" }, spec: { parentRefs: [{ name: "gw" }], rules: [{ backendRefs: [{ name: "web", port: 8080 }] }] } });
    const mixed = route(await waitForResource(env, routeSubject("httproute", ns, "mixed"), (e) => route(e) !== undefined, "published"));
    expect(mixed?.rules.map((r) => r.matches[0]?.path?.value)).toEqual(["/ok"]);
    expect(mixed?.rules[0]?.backends.map((b) => b.service)).toEqual(["web"]);
    expect(mixed?.parentRefs).toEqual([{ namespace: ns, name: "gw", sectionName: "http" }]);
    expect(mixed?.refusedRefs.map((r) => [r.field, r.reason])).toEqual([
      ["spec.parentRefs[1]", "NoMatchingParent"],
      ["spec.rules[0].matches[0].path", "UnsupportedValue"],
      ["spec.rules[1].backendRefs[1]", "BackendNotFound"],
    ]);
    expect(mixed?.refusedRefs[1]?.message).toMatch(/not valid RE2/);
    const fine = route(await waitForResource(env, routeSubject("httproute", ns, "fine"), (e) => route(e) !== undefined, "published"));
    expect(fine?.refusedRefs).toEqual([]);
    expect(watcher.child.exitCode).toBeNull();
  });

  it("publishes an Ingress of IngressClass sharedlb with its TLS Secret", async () => {
    const ns = "ing";
    await createNamespace(env.core, ns);
    await backendService(env.core, ns, "web", "NodePort");
    await env.core.createNamespacedSecret({ namespace: ns, body: tlsSecretBody("shop-tls", valid) });
    await createSharedlbIngress(env, ns, "shop", "shop.example.com", "web", "shop-tls");
    const ing = route(await waitForResource(env, routeSubject("ingress", ns, "shop"), (e) => route(e) !== undefined, "published"));
    expect(ing).toMatchObject({ sourceKind: "Ingress", hostnames: ["shop.example.com"], tls: [{ hosts: ["shop.example.com"], secret: { namespace: ns, name: "shop-tls" } }], refusedRefs: [] });
    await waitForResource(env, subjects.l7Resource(C, "secret", ns, "shop-tls"), (e) => e?.type === "io.sharedlb.secret.v1", "published");
  });
  it("a restarted watcher neither tombstones nor republishes the L7 objects it published", async () => {
    const ns = "restart";
    await createNamespace(env.core, ns);
    await backendService(env.core, ns, "api", "ClusterIP");
    await env.core.createNamespacedSecret({ namespace: ns, body: tlsSecretBody("tls", valid) });
    await gatewayIn(ns, [{ name: "https", protocol: "HTTPS", port: 443, hostname: "shop.example.com", tls: { certificateRefs: [{ name: "tls" }] } }]);
    await createGatewayApi(env.kube, { kind: "HTTPRoute", metadata: { namespace: ns, name: "r" }, spec: { parentRefs: [{ name: "gw" }], rules: [{ backendRefs: [{ name: "api", port: 8080 }] }] } });
    await waitForResource(env, routeSubject("httproute", ns, "r"), (e) => (route(e)?.rules[0]?.backends[0]?.nodePort ?? 0) > 0, "published with the companion's NodePort");
    await waitForResource(env, subjects.l7Resource(C, "secret", ns, "tls"), (e) => e?.type === "io.sharedlb.secret.v1", "published");
    const ours = (m: Map<string, AnyCloudEvent>) => new Map([...m].filter(([s]) => s.includes(`.${ns}.`)).map(([s, e]) => [s, e.id]));
    const before = ours(await resources(env.fx));
    const { companion } = route((await resources(env.fx)).get(routeSubject("httproute", ns, "r")))?.rules[0]?.backends[0] ?? {};
    await watcher.stop(10_000);
    watcher = await env.startWatcher({ cluster: C, replica: "w2", extra: ["--resync-interval", "2s", "--sealing-public-key", keyFile] });
    // Two periodic resyncs later the stream holds exactly the same events, and the companion stayed.
    await watcher.waitForOutput(/resync done[\s\S]*resync done[\s\S]*resync done/, 30_000);
    expect(ours(await resources(env.fx))).toEqual(before);
    expect((await env.core.readNamespacedService({ namespace: ns, name: companion ?? "" })).spec?.type).toBe("NodePort");
  });
});
