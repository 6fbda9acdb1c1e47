import { LISTENER_TYPE } from "@sharedlb/envoy-api";
import { validateEnvoyResources, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apply, createNode, deleteObject, GATEWAY_API, type L7World, read, startL7World, type Tenant, waitForObject } from "./harness.js";
import { httpChains, L7Envoy } from "./l7-envoy.js";
import {
  createClasses,
  createService,
  createTlsSecret,
  gateway,
  grpcRoute,
  httpRoute,
  type IssuedPair,
  ingress,
  issueCertificate,
  type Obj,
  pemBodyLines,
} from "./objects.js";
import { clustersOf, domains, routeOrder, virtualHost } from "./routes.js";
import {
  eventReasons,
  gatewayAddress,
  gatewayCondition,
  ingressIp,
  is,
  listenerCondition,
  routeCondition,
  staleConditions,
} from "./status.js";

// Issue 9, "What must show that it works": two tenant clusters with the Gateway API CRDs,
// NATS, Redis and the four services as OS processes. Tenant a serves an Ingress with TLS
// and a Gateway with an HTTPRoute and a GRPCRoute; tenant b an HTTPRoute; both on the same
// shared IP :80/:443. Each test uses its own hostnames, so none depends on another's order.

const IPS = ["203.0.113.50", "203.0.113.51"];
const POOLS = `
pools:
  - name: public
    addresses: ["${IPS[0]}-${IPS[1]}"]
    ports: "1-65535"
defaultPool: public
releaseDelaySeconds: 1
`;
const FLEETS = "fleets:\n  - name: edge\n    pools: [public]\n";
const SHOP = "shop";
const BLOG = "blog";

let world: L7World;
let a: Tenant;
let b: Tenant;
let envoy: L7Envoy;
let shopPair: IssuedPair;

const ref = (kind: string, namespace: string, name: string, apiVersion = GATEWAY_API) => ({ apiVersion, kind, namespace, name });
const gw = (namespace: string, name: string) => ref("Gateway", namespace, name);
const http = (namespace: string, name: string) => ref("HTTPRoute", namespace, name);
const ing = (namespace: string, name: string) => ref("Ingress", namespace, name, "networking.k8s.io/v1");

const programmed = (o: Obj) => is(gatewayCondition(o, "Programmed"), "True");
const routeProgrammed = (parent: string) => (o: Obj) =>
  is(routeCondition(o, parent, "Accepted"), "True") && is(routeCondition(o, parent, "Programmed"), "True");

beforeAll(async () => {
  world = await startL7World({ clusters: ["a", "b"], pools: POOLS, fleets: FLEETS });
  a = world.tenant("a");
  b = world.tenant("b");
  for (const t of [a, b]) await createClasses(t);
  await a.core.createNamespace({ body: { metadata: { name: SHOP } } });
  await b.core.createNamespace({ body: { metadata: { name: BLOG } } });
  await createNode(a.core, "a-1", "10.0.1.1");
  await createNode(a.core, "a-2", "10.0.1.2");
  await createNode(b.core, "b-1", "10.0.2.1");

  shopPair = issueCertificate(["*.a.example.com", "legacy.a.example.com"]);
  await createTlsSecret(a, SHOP, "shop-tls", shopPair);
  await createService(a, SHOP, "web", { port: 80 });
  await createService(a, SHOP, "api", { type: "NodePort", port: 8080 });
  await createService(a, SHOP, "rpc", { port: 50051, appProtocol: "grpc" });
  await apply(
    a,
    ingress(
      SHOP,
      "legacy",
      [{ host: "legacy.a.example.com", service: "web", port: 80 }],
      [{ hosts: ["legacy.a.example.com"], secretName: "shop-tls" }],
    ),
  );
  await apply(
    a,
    gateway(SHOP, "gw", [
      { name: "http", protocol: "HTTP", port: 80, hostname: "*.a.example.com" },
      { name: "https", protocol: "HTTPS", port: 443, hostname: "*.a.example.com", certificateRefs: [{ name: "shop-tls" }] },
    ]),
  );
  await apply(
    a,
    httpRoute(
      SHOP,
      "store",
      ["gw"],
      ["store.a.example.com"],
      [
        { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "web", port: 80 }] },
        { matches: [{ path: { type: "PathPrefix", value: "/api" } }], backendRefs: [{ name: "api", port: 8080 }] },
        { matches: [{ path: { type: "Exact", value: "/login" } }], backendRefs: [{ name: "web", port: 80 }] },
      ],
    ),
  );
  await apply(
    a,
    grpcRoute(
      SHOP,
      "rpc",
      ["gw"],
      ["rpc.a.example.com"],
      [{ matches: [{ method: { service: "shop.Greeter", method: "Hello" } }], backendRefs: [{ name: "rpc", port: 50051 }] }],
    ),
  );
  await createService(b, BLOG, "blog", { type: "NodePort", port: 80 });
  await apply(b, gateway(BLOG, "gw", [{ name: "http", protocol: "HTTP", port: 80, hostname: "blog.b.example.org" }]));
  await apply(b, httpRoute(BLOG, "posts", ["gw"], [], [{ backendRefs: [{ name: "blog", port: 80 }] }]));

  envoy = new L7Envoy(world.gateway.grpc, { id: "envoy-1", cluster: "edge" }).start();
}, 300_000);

afterAll(async () => {
  envoy?.close();
  await world?.stop();
});

describe("L7 on one shared IP, end to end", () => {
  it("gives tenant a's Ingress, Gateway and routes and tenant b's route the same IP :80/:443, one HTTP and one HTTPS listener with a virtual host and filter chain per hostname", async () => {
    const aGw = await waitForObject<Obj>(a, gw(SHOP, "gw"), "Programmed", programmed, 120_000);
    const bGw = await waitForObject<Obj>(b, gw(BLOG, "gw"), "Programmed", programmed, 120_000);
    const legacy = await waitForObject<Obj>(a, ing(SHOP, "legacy"), "an address", (o) => ingressIp(o) !== undefined, 60_000);
    const ip = gatewayAddress(aGw) as string;
    expect(IPS).toContain(ip);
    expect(gatewayAddress(bGw)).toBe(ip);
    expect(ingressIp(legacy)).toBe(ip);
    for (const [t, name] of [
      [a, "store"],
      [b, "posts"],
    ] as const) {
      await waitForObject<Obj>(t, http(t === a ? SHOP : BLOG, name), "Accepted and Programmed", routeProgrammed("gw"), 60_000);
    }

    const httpL = `http-${ip}-80`;
    const httpsL = `https-${ip}-443`;
    await waitFor(
      "Envoy to hold the HTTP and HTTPS listeners and their routes",
      () => {
        const rc = envoy.routes().get(httpL);
        return (
          envoy.names(LISTENER_TYPE).includes(httpsL) &&
          ["store.a.example.com", "legacy.a.example.com", "blog.b.example.org", "rpc.a.example.com"].every((h) => virtualHost(rc, h))
        );
      },
      60_000,
      100,
    );
    expect(envoy.names(LISTENER_TYPE).filter((n) => n.includes(ip))).toEqual([httpL, httpsL]);

    // HTTP: one virtual host per hostname, tenants side by side; routes in Gateway API precedence.
    const rc = envoy.routes().get(httpL);
    expect(domains(rc)).toEqual(
      expect.arrayContaining(["blog.b.example.org", "legacy.a.example.com", "rpc.a.example.com", "store.a.example.com"]),
    );
    expect(routeOrder(virtualHost(rc, "store.a.example.com"))).toEqual(["exact:/login", "prefix:/api", "prefix:/"]);
    const blogRoutes = virtualHost(rc, "blog.b.example.org")?.routes ?? [];
    expect(blogRoutes.flatMap(clustersOf).map((c) => c.name)).toEqual(["b/blog/blog/http-80"]);

    // HTTPS: tls_inspector, one filter chain per claimed hostname, each with its own RDS and the tenant's SDS secret.
    const https = envoy.listeners().get(httpsL);
    expect((https?.listenerFilters ?? []).map((f) => f.name)).toContain("envoy.filters.listener.tls_inspector");
    const chains = httpChains(https as NonNullable<typeof https>);
    expect(chains.map((c) => c.serverNames).sort()).toEqual([["*.a.example.com"], ["legacy.a.example.com"]]);
    for (const c of chains) {
      expect(c.routeConfig).toBe(`${httpsL}/${c.serverNames[0]}`);
      expect(c.sdsSecrets).toEqual(["a/shop/shop-tls"]);
    }
    await waitFor("every chain's route configuration", () => chains.every((c) => envoy.routes().has(c.routeConfig)), 30_000, 100);
    // A Host of another chain (HTTP/2 connection coalescing) is answered 421, never crosses over.
    const wildcard = envoy.routes().get(`${httpsL}/*.a.example.com`);
    const catchAll = (wildcard?.virtualHosts ?? []).find((v) => (v.domains ?? []).includes("*"));
    expect(catchAll?.routes?.[0]?.directResponse?.status).toBe(421);
    expect(virtualHost(wildcard, "blog.b.example.org")).toBeUndefined();

    // Backends at the tenants' NodePorts; a ClusterIP backend through its NodePort companion, owned by the route.
    const api = await a.core.readNamespacedService({ name: "api", namespace: SHOP });
    await waitFor("api's endpoints", () => envoy.endpointsOf("a/shop/api/http-8080").length === 2, 30_000, 100);
    const apiPort = api.spec?.ports?.[0]?.nodePort;
    expect(envoy.endpointsOf("a/shop/api/http-8080")).toEqual([`10.0.1.1:${apiPort}`, `10.0.1.2:${apiPort}`]);
    const companions = (await a.core.listNamespacedService({ namespace: SHOP })).items.filter((s) =>
      s.metadata?.name?.startsWith("sharedlb-"),
    );
    const webCompanion = companions.find((s) => s.spec?.selector?.app === "web");
    expect(webCompanion?.spec?.type).toBe("NodePort");
    expect((webCompanion?.metadata?.ownerReferences ?? []).map((o) => o.kind)).toEqual(expect.arrayContaining(["HTTPRoute"]));
    const webPort = webCompanion?.spec?.ports?.[0]?.nodePort;
    await waitFor(
      "web's endpoints at the companion's NodePort",
      () => envoy.endpointsOf("a/shop/web/http-80").join() === `10.0.1.1:${webPort},10.0.1.2:${webPort}`,
      30_000,
      100,
    );
    // gRPC backends get HTTP/2 upstreams.
    await waitFor("the gRPC cluster", () => envoy.clusters().has("a/shop/rpc/h2-50051"), 30_000, 100);

    // Envoy's own validation rules (go-control-plane ValidateAll, nested Anys) pass on all of it.
    expect(await validateEnvoyResources(envoy.anys())).toEqual([]);
    for (const o of [aGw, bGw, legacy]) expect(staleConditions(o)).toEqual([]);
  }, 300_000);

  it("refuses tenant b a hostname under tenant a's wildcard with HostnameConflict and an Event, leaves a untouched, and serves b without a new event once a deletes it", async () => {
    await apply(a, gateway(SHOP, "holder", [{ name: "http", protocol: "HTTP", port: 80, hostname: "*.c.example.net" }]));
    await createService(a, SHOP, "holder", { type: "NodePort", port: 80 });
    await apply(a, httpRoute(SHOP, "holder", ["holder"], [], [{ backendRefs: [{ name: "holder", port: 80 }] }]));
    const held = await waitForObject<Obj>(a, gw(SHOP, "holder"), "Programmed", programmed, 60_000);
    const ip = gatewayAddress(held) as string;
    const httpL = `http-${ip}-80`;
    await waitFor("a's wildcard served", () => virtualHost(envoy.routes().get(httpL), "*.c.example.net") !== undefined, 30_000, 100);
    const aHost = () => JSON.stringify(virtualHost(envoy.routes().get(httpL), "*.c.example.net"));
    const before = aHost();

    await createService(b, BLOG, "shop", { type: "NodePort", port: 80 });
    await apply(b, gateway(BLOG, "steal", [{ name: "http", protocol: "HTTP", port: 80, hostname: "shop.c.example.net" }]));
    await apply(b, httpRoute(BLOG, "steal", ["steal"], [], [{ backendRefs: [{ name: "shop", port: 80 }] }]));
    const refused = await waitForObject<Obj>(
      b,
      gw(BLOG, "steal"),
      "Conflicted HostnameConflict",
      (o) => is(listenerCondition(o, "http", "Conflicted"), "True", "HostnameConflict"),
      60_000,
    );
    expect(listenerCondition(refused, "http", "Conflicted")?.message).not.toMatch(/holder|shop\/|tenant a|cluster a/);
    await waitFor(
      "a HostnameConflict Event on b's Gateway",
      async () => (await eventReasons(b.core, BLOG, "steal", "Gateway")).includes("HostnameConflict"),
      30_000,
      200,
    );
    expect(virtualHost(envoy.routes().get(httpL), "shop.c.example.net")).toBeUndefined();
    expect(aHost()).toBe(before);
    expect(staleConditions(refused)).toEqual([]);

    await deleteObject(a, GATEWAY_API, "HTTPRoute", SHOP, "holder");
    await deleteObject(a, GATEWAY_API, "Gateway", SHOP, "holder");
    const served = await waitForObject<Obj>(
      b,
      gw(BLOG, "steal"),
      "Programmed after a let go",
      (o) => programmed(o) && !is(listenerCondition(o, "http", "Conflicted"), "True"),
      90_000,
    );
    expect(gatewayAddress(served)).toBe(ip);
    await waitFor(
      "b's hostname served on the shared IP",
      () => {
        const v = virtualHost(envoy.routes().get(httpL), "shop.c.example.net");
        return (v?.routes ?? []).flatMap(clustersOf).some((c) => c.name === "b/blog/shop/http-80");
      },
      30_000,
      100,
    );
    // Nothing was changed on b's side: its Gateway is still at its first generation.
    expect(served.metadata?.generation).toBe(1);
    expect(staleConditions(served)).toEqual([]);
  }, 300_000);

  it("serves a tenant certificate over SDS; no private key in clear on lb.> or in any log; a wrong or expired certificate is ResolvedRefs=False InvalidCertificateRef", async () => {
    await waitFor("the tenant's certificate over SDS", () => envoy.secrets().has("a/shop/shop-tls"), 60_000, 100);
    const secret = envoy.secrets().get("a/shop/shop-tls");
    const chain = secret?.tlsCertificate?.certificateChain;
    const key = secret?.tlsCertificate?.privateKey;
    const text = (d: typeof chain) => d?.inlineString || Buffer.from(d?.inlineBytes ?? new Uint8Array()).toString();
    expect(text(chain).trim()).toBe(shopPair.cert.trim());
    expect(text(key).trim()).toBe(shopPair.key.trim());

    const expired = issueCertificate(["old.d.example.net"], { expired: true });
    const other = issueCertificate(["bad.d.example.net"]);
    const mismatched = { cert: issueCertificate(["bad.d.example.net"]).cert, key: other.key };
    await createTlsSecret(a, SHOP, "expired-tls", expired);
    await createTlsSecret(a, SHOP, "mismatched-tls", mismatched);
    await apply(
      a,
      gateway(SHOP, "badcerts", [
        { name: "expired", protocol: "HTTPS", port: 443, hostname: "old.d.example.net", certificateRefs: [{ name: "expired-tls" }] },
        { name: "mismatched", protocol: "HTTPS", port: 443, hostname: "bad.d.example.net", certificateRefs: [{ name: "mismatched-tls" }] },
      ]),
    );
    const bad = await waitForObject<Obj>(
      a,
      gw(SHOP, "badcerts"),
      "ResolvedRefs=False InvalidCertificateRef on both listeners",
      (o) => ["expired", "mismatched"].every((l) => is(listenerCondition(o, l, "ResolvedRefs"), "False", "InvalidCertificateRef")),
      60_000,
    );
    expect(listenerCondition(bad, "expired", "ResolvedRefs")?.message).toMatch(/expire/i);
    expect(staleConditions(bad)).toEqual([]);
    await waitFor(
      "an Event for the refused certificate",
      async () => (await eventReasons(a.core, SHOP, "badcerts", "Gateway")).length > 0,
      30_000,
      200,
    );
    expect(envoy.secrets().has("a/shop/expired-tls")).toBe(false);
    expect(envoy.secrets().has("a/shop/mismatched-tls")).toBe(false);
    // The good certificate is still served.
    expect(envoy.secrets().has("a/shop/shop-tls")).toBe(true);

    // The sealed secret travelled; the key itself never did, and no process logged it.
    expect(world.wire()).toContain("lb.resource.a.secret.shop.shop-tls");
    const leaks = (hay: string) =>
      [shopPair, other, expired]
        .flatMap((p) => [...pemBodyLines(p.key), Buffer.from(p.key).toString("base64").slice(40, 120)])
        .filter((l) => hay.includes(l));
    expect(leaks(world.wire())).toEqual([]);
    expect(leaks(world.logs())).toEqual([]);
  }, 300_000);

  it("gives every bad input its condition on that object only and keeps serving the others", async () => {
    const httpL = async () => `http-${gatewayAddress(await read<Obj>(a, GATEWAY_API, "Gateway", SHOP, "gw"))}-80`;
    await a.core.createNamespace({ body: { metadata: { name: "elsewhere" } } });
    await createService(a, "elsewhere", "private", { type: "NodePort", port: 80 });
    await apply(a, httpRoute(SHOP, "missing", ["gw"], ["missing.a.example.com"], [{ backendRefs: [{ name: "nope", port: 80 }] }]));
    await apply(
      a,
      httpRoute(
        SHOP,
        "crossns",
        ["gw"],
        ["crossns.a.example.com"],
        [{ backendRefs: [{ name: "private", namespace: "elsewhere", port: 80 }] }],
      ),
    );
    await apply(
      a,
      httpRoute(
        SHOP,
        "nosection",
        [{ name: "gw", sectionName: "nosuch" }],
        ["nosection.a.example.com"],
        [{ backendRefs: [{ name: "web", port: 80 }] }],
      ),
    );
    await apply(a, httpRoute(SHOP, "offlistener", ["gw"], ["elsewhere.example.org"], [{ backendRefs: [{ name: "web", port: 80 }] }]));

    const cases: [string, string, string, string][] = [
      ["missing", "gw", "ResolvedRefs", "BackendNotFound"],
      ["crossns", "gw", "ResolvedRefs", "RefNotPermitted"],
      ["nosection", "gw", "Accepted", "NoMatchingParent"],
      ["offlistener", "gw", "Accepted", "NoMatchingListenerHostname"],
    ];
    for (const [name, parent, type, reason] of cases) {
      const route = await waitForObject<Obj>(
        a,
        http(SHOP, name),
        `${type}=False ${reason}`,
        (o) => is(routeCondition(o, parent, type), "False", reason),
        60_000,
      );
      expect(staleConditions(route)).toEqual([]);
    }
    // Invalid names and header names never reach sharedlb: the Gateway API CRDs refuse them, with a clear error.
    await expect(
      apply(a, httpRoute(SHOP, "badhost", ["gw"], ["not_a_dns.name"], [{ backendRefs: [{ name: "web", port: 80 }] }])),
    ).rejects.toThrow(/hostname|spec\.hostnames/i);
    await expect(
      apply(
        a,
        httpRoute(
          SHOP,
          "badheader",
          ["gw"],
          ["badheader.a.example.com"],
          [{ matches: [{ headers: [{ name: "bad header", value: "x" }] }], backendRefs: [{ name: "web", port: 80 }] }],
        ),
      ),
    ).rejects.toThrow(/name/i);

    // A rule whose every backend was refused answers 500; the other routes stay served, and no Envoy NACKed anything.
    const rc = envoy.routes().get(await httpL());
    await waitFor(
      "missing's virtual host (answering 500)",
      () => virtualHost(envoy.routes().get(rc?.name ?? ""), "missing.a.example.com") !== undefined,
      30_000,
      100,
    );
    const missing = virtualHost(envoy.routes().get(rc?.name ?? ""), "missing.a.example.com");
    expect(missing?.routes?.[0]?.directResponse?.status).toBe(500);
    expect(virtualHost(envoy.routes().get(rc?.name ?? ""), "store.a.example.com")).toBeDefined();
    for (const name of ["store"]) await waitForObject<Obj>(a, http(SHOP, name), "still Programmed", routeProgrammed("gw"), 30_000);
    await waitForObject<Obj>(b, http(BLOG, "posts"), "still Programmed", routeProgrammed("gw"), 30_000);
    expect(await validateEnvoyResources(envoy.anys())).toEqual([]);
    expect(world.gateway.proc.child.exitCode).toBeNull();
    for (const t of [a, b]) {
      expect(t.watcher.child.exitCode).toBeNull();
      expect(t.reporter.child.exitCode).toBeNull();
    }
  }, 300_000);

  it("removes a ClusterIP backend's companion and its Envoy cluster with the route", async () => {
    await createService(a, SHOP, "shortlived", { port: 8088 });
    await apply(
      a,
      httpRoute(SHOP, "shortlived", ["gw"], ["shortlived.a.example.com"], [{ backendRefs: [{ name: "shortlived", port: 8088 }] }]),
    );
    const cluster = "a/shop/shortlived/http-8088";
    await waitFor("the companion's cluster", () => envoy.endpointsOf(cluster).length === 2, 60_000, 100);
    const companion = (await a.core.listNamespacedService({ namespace: SHOP })).items.find(
      (s) => s.metadata?.name?.startsWith("sharedlb-") && s.spec?.selector?.app === "shortlived",
    );
    const route = await read<Obj>(a, GATEWAY_API, "HTTPRoute", SHOP, "shortlived");
    expect(companion?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: "HTTPRoute", name: "shortlived", uid: route?.metadata?.uid }),
    ]);
    await deleteObject(a, GATEWAY_API, "HTTPRoute", SHOP, "shortlived");
    await waitFor("the cluster to go with the route", () => !envoy.clusters().has(cluster), 60_000, 100);
  }, 300_000);

  it("gives a route whose only rule has an RE2-invalid regex its condition, and keeps serving the others", async () => {
    await apply(
      a,
      httpRoute(
        SHOP,
        "regex",
        ["gw"],
        ["regex.a.example.com"],
        [{ matches: [{ path: { type: "RegularExpression", value: "^/(?!admin).*" } }], backendRefs: [{ name: "web", port: 80 }] }],
      ),
    );
    // The regex route's only rule is dropped: Gateway API's PartiallyInvalid=True or, with no rule left, Accepted=False.
    const regex = await waitForObject<Obj>(
      a,
      http(SHOP, "regex"),
      "UnsupportedValue",
      (o) =>
        is(routeCondition(o, "gw", "PartiallyInvalid"), "True", "UnsupportedValue") ||
        is(routeCondition(o, "gw", "Accepted"), "False", "UnsupportedValue"),
      60_000,
    );
    expect(staleConditions(regex)).toEqual([]);
    await waitForObject<Obj>(a, http(SHOP, "store"), "still Programmed", routeProgrammed("gw"), 30_000);
  }, 300_000);
});
