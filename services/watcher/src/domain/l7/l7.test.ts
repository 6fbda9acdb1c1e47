import type { V1Ingress, V1IngressClass, V1Secret, V1Service } from "@kubernetes/client-node";
import { generateSealingKeyPair, openPrivateKey, sealedKeyContext, sealPrivateKey, validateData } from "@sharedlb/contracts";
import { beforeAll, describe, expect, it } from "vitest";
import { selfSignedCert, type TestKeyPair } from "../../test-support/tls.js";
import { companionName, companionObject, desiredCompanions } from "./companions.js";
import type { Gateway, GatewayClass, GrpcRoute, HttpRoute, ReferenceGrant, TlsRoute } from "./gateway-api.js";
import { normalizeGateway } from "./gateway.js";
import { normalizeIngress } from "./ingress.js";
import { hostnameCovers, intersectHostnames } from "./references.js";
import { normalizeGatewayRoute } from "./routes.js";
import { normalizeSecret, referencedSecrets } from "./secret.js";
import { headerNameProblem, hostnameProblem, parseDuration, regexProblem } from "./validation.js";
import type { L7View, NamespaceInfo } from "./view.js";

// Pure L7 normalization against an in-memory view of a tenant cluster.

const NOW = new Date();

class World {
  classes: GatewayClass[] = [
    { metadata: { name: "sharedlb" }, spec: { controllerName: "sharedlb.io/gateway-controller" } },
    { metadata: { name: "other" }, spec: { controllerName: "example.com/other" } },
  ];
  ingressClasses: V1IngressClass[] = [{ metadata: { name: "sharedlb" }, spec: { controller: "sharedlb.io/ingress-controller" } }];
  gateways: Gateway[] = [];
  grants: ReferenceGrant[] = [];
  services: V1Service[] = [];
  secrets: V1Secret[] = [];
  nss: NamespaceInfo[] = [
    { name: "app", labels: { team: "a" } },
    { name: "web", labels: { team: "a", shared: "yes" } },
    { name: "other", labels: {} },
  ];
  now = NOW;

  view(): L7View {
    return {
      cluster: "t1",
      now: this.now,
      gatewayClass: (n) => this.classes.find((c) => c.metadata?.name === n),
      gateway: (ns, n) => this.gateways.find((g) => g.metadata?.namespace === ns && g.metadata?.name === n),
      ingressClass: (n) => this.ingressClasses.find((c) => c.metadata?.name === n),
      listIngressClasses: () => this.ingressClasses,
      namespaces: () => this.nss,
      namespace: (n) => this.nss.find((x) => x.name === n),
      referenceGrants: (ns) => this.grants.filter((g) => g.metadata?.namespace === ns),
      service: (ns, n) => this.services.find((s) => s.metadata?.namespace === ns && s.metadata?.name === n),
      secret: (ns, n) => this.secrets.find((s) => s.metadata?.namespace === ns && s.metadata?.name === n),
    };
  }
}

const svc = (ns: string, name: string, type: "ClusterIP" | "NodePort" = "NodePort", appProtocol?: string): V1Service => ({
  metadata: { namespace: ns, name, uid: `u-${name}` },
  spec: {
    type,
    selector: { app: name },
    ports: [{ name: "http", port: 8080, protocol: "TCP", targetPort: 8080, ...(type === "NodePort" ? { nodePort: 30080 } : {}), ...(appProtocol ? { appProtocol } : {}) }],
  },
});

const tlsSecret = (ns: string, name: string, pair: TestKeyPair): V1Secret => ({
  metadata: { namespace: ns, name, uid: `s-${name}`, resourceVersion: "7" },
  type: "kubernetes.io/tls",
  data: { "tls.crt": Buffer.from(pair.cert).toString("base64"), "tls.key": Buffer.from(pair.key).toString("base64") },
});

const gateway = (listeners: NonNullable<Gateway["spec"]>["listeners"], cls = "sharedlb", ns = "app"): Gateway => ({
  metadata: { namespace: ns, name: "gw", uid: "g1", generation: 3, annotations: { "sharedlb.io/pool": "public", "x/y": "z" } },
  spec: { gatewayClassName: cls, listeners },
});

const grant = (ns: string, fromKind: string, fromNs: string, toKind: string, name?: string): ReferenceGrant => ({
  metadata: { namespace: ns, name: `grant-${fromKind}-${toKind}` },
  spec: {
    from: [{ group: "gateway.networking.k8s.io", kind: fromKind, namespace: fromNs }],
    to: [{ group: "", kind: toKind, ...(name ? { name } : {}) }],
  },
});

const httpRoute = (spec: HttpRoute["spec"], ns = "app"): HttpRoute => ({
  metadata: { namespace: ns, name: "r", uid: "r1", generation: 2 },
  spec: { parentRefs: [{ name: "gw", namespace: "app" }], ...spec },
});

let valid: TestKeyPair;
let expired: TestKeyPair;
let otherKey: TestKeyPair;
beforeAll(() => {
  valid = selfSignedCert(["shop.example.com", "*.shop.example.com"]);
  expired = selfSignedCert(["old.example.com"], { notBefore: new Date("2020-01-01T00:00:00Z"), notAfter: new Date("2020-01-02T00:00:00Z") });
  otherKey = selfSignedCert(["shop.example.com"]);
});

describe("Gateway normalization", () => {
  it("publishes listeners with allowedRoutes resolved and permitted, valid certificates only", () => {
    const w = new World();
    w.secrets.push(tlsSecret("app", "shop-tls", valid), tlsSecret("certs", "shared-tls", valid), tlsSecret("certs", "locked", valid));
    w.secrets.push(tlsSecret("app", "old-tls", expired));
    w.secrets.push({ ...tlsSecret("app", "mixed", valid), data: { "tls.crt": tlsSecret("a", "b", valid).data?.["tls.crt"] ?? "", "tls.key": Buffer.from(otherKey.key).toString("base64") } });
    w.grants.push(grant("certs", "Gateway", "app", "Secret", "shared-tls"));
    w.gateways.push(
      gateway([
        { name: "http", protocol: "HTTP", port: 80, hostname: "shop.example.com" },
        { name: "all", protocol: "HTTP", port: 8080, allowedRoutes: { namespaces: { from: "All" }, kinds: [{ kind: "HTTPRoute" }, { kind: "TLSRoute" }] } },
        { name: "sel", protocol: "HTTP", port: 8081, allowedRoutes: { namespaces: { from: "Selector", selector: { matchLabels: { team: "a" }, matchExpressions: [{ key: "shared", operator: "Exists" }] } } } },
        {
          name: "https",
          protocol: "HTTPS",
          port: 443,
          hostname: "*.shop.example.com",
          tls: {
            certificateRefs: [
              { name: "shop-tls" },
              { name: "shared-tls", namespace: "certs" },
              { name: "locked", namespace: "certs" },
              { name: "old-tls" },
              { name: "mixed" },
              { name: "missing" },
              { name: "cm", kind: "ConfigMap" },
            ],
          },
        },
        { name: "pass", protocol: "TLS", port: 8443, tls: { mode: "Passthrough" } },
        { name: "weird", protocol: "example.com/QUIC", port: 9 },
      ]),
    );
    const g = normalizeGateway(w.view(), w.gateways[0]);
    expect(g && validateData("io.sharedlb.gateway.v1", g)).toBe(true);
    expect(g?.annotations).toEqual({ "sharedlb.io/pool": "public" });
    expect(g?.generation).toBe(3);
    expect(g?.listeners.map((l) => [l.name, l.allowedRoutes])).toEqual([
      ["http", { allNamespaces: false, namespaces: ["app"], kinds: ["HTTPRoute", "GRPCRoute"] }],
      ["all", { allNamespaces: true, namespaces: [], kinds: ["HTTPRoute"] }],
      ["sel", { allNamespaces: false, namespaces: ["web"], kinds: ["HTTPRoute", "GRPCRoute"] }],
      ["https", { allNamespaces: false, namespaces: ["app"], kinds: ["HTTPRoute", "GRPCRoute"] }],
      ["pass", { allNamespaces: false, namespaces: ["app"], kinds: ["TLSRoute"] }],
    ]);
    expect(g?.listeners[3]?.tls).toEqual({
      mode: "Terminate",
      certificateRefs: [
        { namespace: "app", name: "shop-tls" },
        { namespace: "certs", name: "shared-tls" },
      ],
    });
    expect(g?.listeners[4]?.tls).toEqual({ mode: "Passthrough", certificateRefs: [] });
    const reasons = g?.refusedRefs.map((r) => [r.field, r.name, r.reason]);
    expect(reasons).toEqual([
      ["spec.listeners[1].allowedRoutes.kinds[1]", "gw", "InvalidKind"],
      ["spec.listeners[3].tls.certificateRefs[2]", "locked", "RefNotPermitted"],
      ["spec.listeners[3].tls.certificateRefs[3]", "old-tls", "InvalidCertificateRef"],
      ["spec.listeners[3].tls.certificateRefs[4]", "mixed", "InvalidCertificateRef"],
      ["spec.listeners[3].tls.certificateRefs[5]", "missing", "InvalidCertificateRef"],
      ["spec.listeners[3].tls.certificateRefs[6]", "cm", "InvalidCertificateRef"],
      ["spec.listeners[5].protocol", "gw", "UnsupportedProtocol"],
    ]);
    expect(g?.refusedRefs[2]?.message).toMatch(/expired at 2020-01-02T00:00:00.000Z/);
    expect(g?.refusedRefs[3]?.message).toMatch(/does not belong to the certificate/);
  });

  it("judges certificates against the time: a valid one expires", () => {
    const w = new World();
    w.secrets.push(tlsSecret("app", "shop-tls", valid));
    w.gateways.push(gateway([{ name: "https", protocol: "HTTPS", port: 443, tls: { certificateRefs: [{ name: "shop-tls" }] } }]));
    expect(normalizeGateway(w.view(), w.gateways[0])?.refusedRefs).toEqual([]);
    w.now = new Date(NOW.getTime() + 3 * 86_400_000);
    expect(normalizeGateway(w.view(), w.gateways[0])?.refusedRefs.map((r) => r.reason)).toEqual(["InvalidCertificateRef"]);
  });

  it("ignores Gateways of other classes and refuses a listener hostname that is no DNS name", () => {
    const w = new World();
    expect(normalizeGateway(w.view(), gateway([{ name: "h", protocol: "HTTP", port: 80 }], "other"))).toBeUndefined();
    expect(normalizeGateway(w.view(), gateway([{ name: "h", protocol: "HTTP", port: 80 }], "absent"))).toBeUndefined();
    const g = normalizeGateway(w.view(), gateway([{ name: "bad", protocol: "HTTP", port: 80, hostname: "Shop_Example" }, { name: "ok", protocol: "HTTP", port: 81 }]));
    expect(g?.listeners.map((l) => l.name)).toEqual(["ok"]);
    expect(g?.refusedRefs[0]).toMatchObject({ field: "spec.listeners[0].hostname", reason: "UnsupportedValue" });
  });
});

describe("route normalization", () => {
  const world = () => {
    const w = new World();
    w.gateways.push(
      gateway([
        { name: "http", protocol: "HTTP", port: 80, hostname: "*.shop.example.com" },
        { name: "tls", protocol: "TLS", port: 443, tls: { mode: "Passthrough" } },
      ]),
    );
    w.services.push(svc("app", "web"), svc("app", "api", "ClusterIP", "kubernetes.io/h2c"), svc("shared", "auth"));
    return w;
  };

  it("publishes an HTTPRoute with matches, filters, weighted backends and timeouts", () => {
    const w = world();
    const r = normalizeGatewayRoute(
      w.view(),
      "HTTPRoute",
      httpRoute({
        parentRefs: [{ name: "gw", sectionName: "http" }],
        hostnames: ["a.shop.example.com"],
        rules: [
          {
            name: "main",
            matches: [
              { path: { type: "PathPrefix", value: "/api" }, method: "GET", headers: [{ name: "x-canary", value: "1" }], queryParams: [{ type: "RegularExpression", name: "v", value: "^[0-9]+$" }] },
            ],
            filters: [
              { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-a", value: "1" }], remove: ["x-b"] } },
              { type: "URLRewrite", urlRewrite: { path: { type: "ReplacePrefixMatch", replacePrefixMatch: "/" } } },
              { type: "RequestMirror", requestMirror: { backendRef: { name: "web", port: 8080 }, fraction: { numerator: 1, denominator: 4 } } },
            ],
            backendRefs: [
              { name: "web", port: 8080, weight: 80 },
              { name: "api", port: 8080, weight: 20 },
            ],
            timeouts: { request: "1m30s", backendRequest: "500ms" },
          },
          { filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }] },
        ],
      }),
    );
    expect(r && validateData("io.sharedlb.route.v1", r.data)).toBe(true);
    expect(r?.data.parentRefs).toEqual([{ namespace: "app", name: "gw", sectionName: "http" }]);
    expect(r?.data.refusedRefs).toEqual([]);
    const [main, redirect] = r?.data.rules ?? [];
    expect(main?.matches).toEqual([
      {
        path: { type: "PathPrefix", value: "/api" },
        method: "GET",
        headers: [{ name: "x-canary", value: "1", type: "Exact" }],
        queryParams: [{ name: "v", value: "^[0-9]+$", type: "RegularExpression" }],
      },
    ]);
    expect(main?.backends).toEqual([
      { namespace: "app", service: "web", port: 8080, weight: 80, nodePort: 30080 },
      { namespace: "app", service: "api", port: 8080, weight: 20, nodePort: 0, companion: companionName("app", "api"), appProtocol: "kubernetes.io/h2c" },
    ]);
    expect(main?.filters[2]).toMatchObject({ type: "RequestMirror", percent: 25, backend: { service: "web" } });
    expect(main?.timeouts).toEqual({ requestMs: 90_000, backendRequestMs: 500 });
    expect(redirect?.matches).toEqual([{ path: { type: "PathPrefix", value: "/" } }]);
    expect(redirect?.filters).toEqual([{ type: "RequestRedirect", scheme: "https", statusCode: 301 }]);
    expect(r?.companions).toEqual([{ namespace: "app", service: "api", owner: { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", name: "r", uid: "r1" } }]);
  });

  it("refuses a cross-namespace backend without a ReferenceGrant and accepts it with one", () => {
    const w = world();
    const route = httpRoute({ rules: [{ backendRefs: [{ name: "auth", namespace: "shared", port: 8080 }] }] });
    const refused = normalizeGatewayRoute(w.view(), "HTTPRoute", route);
    expect(refused?.data.rules[0]?.backends).toEqual([]);
    expect(refused?.data.refusedRefs).toEqual([
      expect.objectContaining({ field: "spec.rules[0].backendRefs[0]", kind: "Service", namespace: "shared", name: "auth", reason: "RefNotPermitted" }),
    ]);
    w.grants.push(grant("shared", "GRPCRoute", "app", "Service"));
    expect(normalizeGatewayRoute(w.view(), "HTTPRoute", route)?.data.refusedRefs[0]?.reason).toBe("RefNotPermitted");
    w.grants.push(grant("shared", "HTTPRoute", "app", "Service", "auth"));
    const accepted = normalizeGatewayRoute(w.view(), "HTTPRoute", route);
    expect(accepted?.data.refusedRefs).toEqual([]);
    expect(accepted?.data.rules[0]?.backends[0]).toMatchObject({ namespace: "shared", service: "auth", nodePort: 30080 });
  });

  it("keeps a rule whose backends are all refused, with the reasons", () => {
    const w = world();
    const r = normalizeGatewayRoute(
      w.view(),
      "HTTPRoute",
      httpRoute({ rules: [{ backendRefs: [{ name: "gone", port: 80 }, { name: "web", port: 9999 }, { name: "b", kind: "Bucket", group: "s3.example.com" }] }] }),
    );
    expect(r?.data.rules).toHaveLength(1);
    expect(r?.data.rules[0]?.backends).toEqual([]);
    expect(r?.data.refusedRefs.map((x) => x.reason)).toEqual(["BackendNotFound", "BackendNotFound", "InvalidKind"]);
  });

  it("refuses only the rule with an RE2-invalid regex or a bad header name", () => {
    const w = world();
    const r = normalizeGatewayRoute(
      w.view(),
      "HTTPRoute",
      httpRoute({
        rules: [
          { matches: [{ path: { type: "RegularExpression", value: "/(?=admin)" } }], backendRefs: [{ name: "web", port: 8080 }] },
          { matches: [{ headers: [{ name: "bad header", value: "x" }] }], backendRefs: [{ name: "web", port: 8080 }] },
          { matches: [{ path: { type: "RegularExpression", value: "/v[0-9]+/.*" } }], backendRefs: [{ name: "web", port: 8080 }] },
          { filters: [{ type: "ExtensionRef" }], backendRefs: [{ name: "web", port: 8080 }] },
        ],
      }),
    );
    expect(r && validateData("io.sharedlb.route.v1", r.data)).toBe(true);
    expect(r?.data.rules.map((x) => x.matches[0]?.path?.value)).toEqual(["/v[0-9]+/.*"]);
    expect(r?.data.refusedRefs.map((x) => [x.field, x.reason])).toEqual([
      ["spec.rules[0].matches[0].path", "UnsupportedValue"],
      ["spec.rules[1].matches[0].headers[0].name", "UnsupportedValue"],
      ["spec.rules[3].filters[0]", "UnsupportedValue"],
    ]);
    expect(r?.data.refusedRefs[0]?.message).toMatch(/rule 0 is not served: regular expression "\/\(\?=admin\)" is not valid RE2/);
  });

  it("refuses parents that do not admit the route, and is not ours without a sharedlb parent", () => {
    const w = world();
    w.gateways.push({ ...gateway([{ name: "x", protocol: "HTTP", port: 80 }], "other"), metadata: { namespace: "app", name: "theirs" } });
    const r = normalizeGatewayRoute(
      w.view(),
      "HTTPRoute",
      httpRoute(
        {
          parentRefs: [{ name: "gw", namespace: "app" }, { name: "gw", namespace: "app", sectionName: "nope" }, { name: "theirs", namespace: "app" }],
          rules: [],
        },
        "other",
      ),
    );
    expect(r?.data.parentRefs).toEqual([]);
    expect(r?.data.refusedRefs.map((x) => x.reason)).toEqual(["NotAllowedByListeners", "NoMatchingParent"]);
    const hosts = normalizeGatewayRoute(w.view(), "HTTPRoute", httpRoute({ hostnames: ["www.example.org"], rules: [] }));
    expect(hosts?.data.refusedRefs.map((x) => x.reason)).toEqual(["NoMatchingListenerHostname"]);
    expect(normalizeGatewayRoute(w.view(), "HTTPRoute", httpRoute({ parentRefs: [{ name: "theirs" }] }))).toBeUndefined();
    expect(normalizeGatewayRoute(w.view(), "HTTPRoute", httpRoute({ parentRefs: [{ name: "absent" }] }))).toBeUndefined();
  });

  it("publishes a GRPCRoute's method matches and a TLSRoute's passthrough backends", () => {
    const w = world();
    const g: GrpcRoute = {
      metadata: { namespace: "app", name: "g", uid: "g2", generation: 1 },
      spec: {
        parentRefs: [{ name: "gw", sectionName: "http" }],
        hostnames: ["grpc.shop.example.com"],
        rules: [{ matches: [{ method: { service: "shop.Cart", method: "Add" } }, { method: { type: "RegularExpression", service: "shop\\..*" } }], backendRefs: [{ name: "api", port: 8080 }] }],
      },
    };
    const gr = normalizeGatewayRoute(w.view(), "GRPCRoute", g);
    expect(gr && validateData("io.sharedlb.route.v1", gr.data)).toBe(true);
    expect(gr?.data.sourceKind).toBe("GRPCRoute");
    expect(gr?.data.rules[0]?.matches).toEqual([{ grpc: { type: "Exact", service: "shop.Cart", method: "Add" } }, { grpc: { type: "RegularExpression", service: "shop\\..*" } }]);
    const t: TlsRoute = {
      metadata: { namespace: "app", name: "t", uid: "t1", generation: 1 },
      spec: { parentRefs: [{ name: "gw", sectionName: "tls" }], hostnames: ["db.example.com"], rules: [{ backendRefs: [{ name: "web", port: 8080 }] }] },
    };
    const tr = normalizeGatewayRoute(w.view(), "TLSRoute", t);
    expect(tr && validateData("io.sharedlb.route.v1", tr.data)).toBe(true);
    expect(tr?.data).toMatchObject({ sourceKind: "TLSRoute", hostnames: ["db.example.com"], rules: [{ matches: [], filters: [], backends: [{ service: "web", nodePort: 30080 }] }] });
    // An HTTPRoute cannot attach to the TLS listener.
    const wrong = normalizeGatewayRoute(w.view(), "HTTPRoute", httpRoute({ parentRefs: [{ name: "gw", sectionName: "tls" }], rules: [] }));
    expect(wrong?.data.refusedRefs.map((x) => x.reason)).toEqual(["NotAllowedByListeners"]);
  });
});

describe("Ingress normalization", () => {
  const ingress = (spec: V1Ingress["spec"]): V1Ingress => ({ metadata: { namespace: "app", name: "shop", uid: "i1", generation: 4 }, spec: { ingressClassName: "sharedlb", ...spec } });

  it("publishes rules per path, TLS entries with valid Secrets and the default backend", () => {
    const w = new World();
    w.services.push(svc("app", "web"), svc("app", "api", "ClusterIP"));
    w.secrets.push(tlsSecret("app", "shop-tls", valid), tlsSecret("app", "old-tls", expired));
    const r = normalizeIngress(
      w.view(),
      ingress({
        rules: [
          { host: "shop.example.com", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 8080 } } } }, { path: "/api", pathType: "Exact", backend: { service: { name: "api", port: { name: "http" } } } }] } },
          { host: "Bad_Host", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 8080 } } } }] } },
        ],
        tls: [{ hosts: ["shop.example.com"], secretName: "shop-tls" }, { hosts: ["old.example.com"], secretName: "old-tls" }],
        defaultBackend: { service: { name: "missing", port: { number: 80 } } },
      }),
    );
    expect(r && validateData("io.sharedlb.route.v1", r.data)).toBe(true);
    expect(r?.data).toMatchObject({ sourceKind: "Ingress", generation: 4, parentRefs: [], hostnames: ["old.example.com", "shop.example.com"] });
    expect(r?.data.rules).toEqual([
      { hostnames: ["shop.example.com"], matches: [{ path: { type: "PathPrefix", value: "/" } }], filters: [], backends: [{ namespace: "app", service: "web", port: 8080, weight: 1, nodePort: 30080 }] },
      {
        hostnames: ["shop.example.com"],
        matches: [{ path: { type: "Exact", value: "/api" } }],
        filters: [],
        backends: [{ namespace: "app", service: "api", port: 8080, weight: 1, nodePort: 0, companion: companionName("app", "api") }],
      },
    ]);
    expect(r?.data.tls).toEqual([{ hosts: ["shop.example.com"], secret: { namespace: "app", name: "shop-tls" } }]);
    expect(r?.data.defaultBackend).toBeUndefined();
    expect(r?.data.refusedRefs.map((x) => [x.field, x.reason])).toEqual([
      ["spec.rules[1].host", "UnsupportedValue"],
      ["spec.tls[1].secretName", "InvalidCertificateRef"],
      ["spec.defaultBackend", "BackendNotFound"],
    ]);
    expect(r?.companions).toEqual([{ namespace: "app", service: "api", owner: { apiVersion: "networking.k8s.io/v1", kind: "Ingress", name: "shop", uid: "i1" } }]);
  });

  it("serves only Ingresses of a sharedlb IngressClass (or the default class when it is ours)", () => {
    const w = new World();
    expect(normalizeIngress(w.view(), ingress({ ingressClassName: "nginx" }))).toBeUndefined();
    expect(normalizeIngress(w.view(), { metadata: { namespace: "app", name: "x" }, spec: {} })).toBeUndefined();
    w.ingressClasses[0] = { ...w.ingressClasses[0], metadata: { name: "sharedlb", annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } } };
    expect(normalizeIngress(w.view(), { metadata: { namespace: "app", name: "x" }, spec: {} })).toBeDefined();
  });
});

describe("TLS Secrets", () => {
  it("publishes only referenced, valid key pairs, the private key sealed", () => {
    const w = new World();
    w.secrets.push(tlsSecret("app", "shop-tls", valid), tlsSecret("app", "unused", valid), tlsSecret("app", "old-tls", expired));
    w.gateways.push(gateway([{ name: "https", protocol: "HTTPS", port: 443, tls: { certificateRefs: [{ name: "shop-tls" }, { name: "old-tls" }] } }]));
    const gw = generateSealingKeyPair();
    const seal = (p: Uint8Array, c: { namespace: string; name: string }) => sealPrivateKey(p, gw.publicKey, sealedKeyContext("t1", c.namespace, c.name));
    const referenced = referencedSecrets(w.view(), w.gateways, []);
    expect([...referenced].sort()).toEqual(["app/old-tls", "app/shop-tls"]);
    const s = normalizeSecret(w.view(), "app", "shop-tls", referenced, seal);
    expect(s && validateData("io.sharedlb.secret.v1", s)).toBe(true);
    expect(s?.dnsNames).toEqual(["*.shop.example.com", "shop.example.com"]);
    expect(s?.certificateChainPem).toContain("BEGIN CERTIFICATE");
    expect(JSON.stringify(s)).not.toContain("PRIVATE KEY");
    const opened = openPrivateKey(s?.privateKey as NonNullable<typeof s>["privateKey"], [gw], sealedKeyContext("t1", "app", "shop-tls")).toString();
    expect(opened).toContain("BEGIN PRIVATE KEY");
    expect(normalizeSecret(w.view(), "app", "unused", referenced, seal)).toBeUndefined();
    expect(normalizeSecret(w.view(), "app", "old-tls", referenced, seal)).toBeUndefined();
  });
});

describe("companions", () => {
  it("wants one NodePort Service per ClusterIP backend, owned by the routes of its namespace", () => {
    const w = new World();
    w.services.push(svc("app", "api", "ClusterIP"), svc("app", "web"));
    const owner = (name: string) => ({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", name, uid: `uid-${name}` });
    const wanted = desiredCompanions(
      [
        { namespace: "app", service: "api", owner: owner("b") },
        { namespace: "app", service: "api", owner: owner("a") },
        { namespace: "app", service: "api" },
        { namespace: "app", service: "web", owner: owner("a") },
        { namespace: "app", service: "gone", owner: owner("a") },
      ],
      w.view().service,
    );
    expect(wanted).toHaveLength(1);
    const obj = companionObject(wanted[0] as (typeof wanted)[number], {
      metadata: { resourceVersion: "9" },
      spec: { ports: [{ port: 8080, protocol: "TCP", nodePort: 31000 }] },
    });
    expect(obj.metadata).toMatchObject({
      name: companionName("app", "api"),
      namespace: "app",
      resourceVersion: "9",
      labels: { "app.kubernetes.io/managed-by": "sharedlb-watcher", "sharedlb.io/companion-of": "api" },
      ownerReferences: [owner("a"), owner("b")],
    });
    expect(obj.spec).toEqual({ type: "NodePort", selector: { app: "api" }, ports: [{ name: "http", port: 8080, protocol: "TCP", targetPort: 8080, nodePort: 31000 }] });
    expect(companionName("app", "api")).toMatch(/^sharedlb-[0-9a-f]{10}$/);
  });
});

describe("input checks", () => {
  it("tells DNS names, header names, RE2 and durations from what they are not", () => {
    expect(hostnameProblem("*.example.com")).toBeUndefined();
    expect(hostnameProblem("a..b")).toMatch(/not a DNS name/);
    expect(hostnameProblem("*")).toMatch(/not a DNS name/);
    expect(headerNameProblem("x-ok")).toBeUndefined();
    expect(headerNameProblem("x:no")).toMatch(/not a valid HTTP header name/);
    expect(regexProblem("^/a(b|c)*$")).toBeUndefined();
    expect(regexProblem("(a)\\1")).toMatch(/not valid RE2/);
    expect(parseDuration("1h2m3s4ms")).toEqual({ ms: 3_723_004 });
    expect(parseDuration("10")).toHaveProperty("problem");
  });

  it("intersects hostnames as Gateway API does", () => {
    expect(intersectHostnames("*.example.com", ["a.example.com", "example.com", "*.b.example.com"])).toEqual(["a.example.com", "*.b.example.com"]);
    expect(intersectHostnames("a.example.com", ["*.example.com"])).toEqual(["a.example.com"]);
    expect(intersectHostnames(undefined, [])).toBe("any");
    expect(hostnameCovers("*.example.com", "a.b.example.com")).toBe(true);
    expect(hostnameCovers("*.example.com", "example.com")).toBe(false);
  });
});
