import type { GatewayResource, L7Allocation, Programmed, RouteResource } from "@sharedlb/contracts";
import { intersect } from "@sharedlb/serving";
import { describe, expect, it } from "vitest";
import { listenerAllocation } from "../test-support/l7-allocations.js";
import { CliError } from "./errors.js";
import { combineProgrammed, explainProgrammed, explainL7 as explainWith, type L7ExplainInput, renderL7Explanation } from "./explain-l7.js";
import { PLAIN_STYLE } from "./style.js";

const t = "2026-11-22T01:00:00.000Z";
// With the gateway's own hostname rules, as `sharedlb explain` runs it.
const explainL7 = (input: L7ExplainInput) => explainWith(input, intersect);
const stored = <T>(data: T, seq = 1) => ({ seq, time: t, data });

const listener = listenerAllocation;

const gateway: GatewayResource = {
  cluster: "a",
  namespace: "shop",
  name: "gw",
  uid: "g1",
  generation: 3,
  gatewayClassName: "sharedlb",
  listeners: [
    {
      name: "web",
      protocol: "HTTP",
      port: 80,
      hostname: "*.example.com",
      allowedRoutes: { allNamespaces: false, namespaces: ["shop"], kinds: ["HTTPRoute"] },
    },
    {
      name: "secure",
      protocol: "HTTPS",
      port: 443,
      hostname: "*.example.com",
      tls: { mode: "Terminate", certificateRefs: [] },
      allowedRoutes: { allNamespaces: false, namespaces: ["shop"], kinds: ["HTTPRoute"] },
    },
  ],
  annotations: {},
  refusedRefs: [
    {
      field: "spec.listeners[1].tls.certificateRefs[0]",
      group: "",
      kind: "Secret",
      namespace: "shop",
      name: "expired",
      reason: "InvalidCertificateRef",
      message: "the certificate expired at 2026-01-01T00:00:00Z",
    },
  ],
};

const gatewayAllocation: L7Allocation = {
  cluster: "a",
  namespace: "shop",
  name: "gw",
  kind: "gateway",
  uid: "g1",
  generation: 3,
  state: "Allocated",
  listeners: [
    listener({ claimedHostnames: ["*.example.com"] }),
    listener({ name: "secure", protocol: "HTTPS", port: 443, claimedHostnames: ["*.example.com"] }),
  ],
  reason: "",
  message: "",
  resourceSequence: 7,
};

const route: RouteResource = {
  cluster: "a",
  namespace: "shop",
  name: "store",
  uid: "r1",
  generation: 2,
  sourceKind: "HTTPRoute",
  parentRefs: [{ namespace: "shop", name: "gw", sectionName: "web" }],
  hostnames: ["store.example.com", "other.org"],
  rules: [],
  refusedRefs: [
    {
      field: "spec.rules[0].backendRefs[0]",
      group: "",
      kind: "Service",
      namespace: "shop",
      name: "gone",
      reason: "BackendNotFound",
      message: "Service shop/gone does not exist",
    },
  ],
  annotations: {},
};

const programmed = (over: Partial<Programmed>): Programmed => ({
  cluster: "a",
  namespace: "shop",
  name: "gw",
  kind: "gateway",
  allocationVersion: 3,
  fleet: "edge",
  acked: 2,
  nacked: 0,
  pending: 0,
  ...over,
});

const gwInput = (over: Partial<L7ExplainInput> = {}): L7ExplainInput => ({
  kind: "gateway",
  ref: { cluster: "a", namespace: "shop", name: "gw" },
  resource: stored(gateway),
  allocation: stored(gatewayAllocation, 9),
  parents: [],
  ...over,
});

describe("explainL7: Gateways and Ingresses", () => {
  it("shows the listeners with their IP, port, Envoy listener and claimed hostnames, and the refused references", () => {
    const e = explainL7(gwInput({ programmed: stored(programmed({})) }));
    expect(e.state).toBe("Allocated");
    expect(e.summary).toBe("Allocated on 203.0.113.10 (2 listener(s)).");
    expect(e.listeners.map((l) => [l.name, l.envoyListener, l.claimedHostnames])).toEqual([
      ["web", "http-203.0.113.10-80", ["*.example.com"]],
      ["secure", "https-203.0.113.10-443", ["*.example.com"]],
    ]);
    expect(e.refusedRefs.map((r) => r.reason)).toEqual(["InvalidCertificateRef"]);
    expect(e.programmed.status).toBe("True");
    const text = renderL7Explanation(e, PLAIN_STYLE);
    expect(text).toContain("shop/gw secure HTTPS 203.0.113.10:443 shared  *.example.com  listener https-203.0.113.10-443");
    expect(text).toContain("spec.listeners[1].tls.certificateRefs[0]: Secret shop/expired InvalidCertificateRef");
  });

  it("a refused hostname is shown with its reason, and that it is served by itself once released", () => {
    const pending: L7Allocation = {
      ...gatewayAllocation,
      state: "Pending",
      reason: "HostnameConflict",
      message: "a hostname is taken",
      listeners: [
        listener({
          state: "Pending",
          ip: "",
          port: 0,
          reason: "HostnameConflict",
          refusedHostnames: [
            { hostname: "*.example.com", reason: "HostnameConflict", message: "*.example.com is taken on 203.0.113.10:80" },
          ],
        }),
      ],
    };
    const e = explainL7(gwInput({ allocation: stored(pending) }));
    expect(e.state).toBe("Pending");
    expect(e.hostnames.refused.map((r) => `${r.hostname} ${r.reason}`)).toEqual(["*.example.com HostnameConflict"]);
    expect(e.notes.join()).toMatch(/served here as soon as that tenant releases it/);
    expect(renderL7Explanation(e, PLAIN_STYLE)).toContain("✗ *.example.com: HostnameConflict — *.example.com is taken on 203.0.113.10:80");
  });

  it("Programmed False carries Envoy's own text; an older generation is not yet programmed", () => {
    const nack = programmed({
      acked: 1,
      nacked: 1,
      errorDetail: {
        typeUrl: "type.googleapis.com/envoy.config.listener.v3.Listener",
        node: "edge-1",
        message: "Error adding/updating listener(s) https-203.0.113.10-443: bad\nsecond line",
      },
    });
    const e = explainL7(gwInput({ programmed: stored(nack) }));
    expect(e.programmed.status).toBe("False");
    expect(e.programmed.error?.message).toBe(nack.errorDetail?.message);
    const text = renderL7Explanation(e, PLAIN_STYLE);
    expect(text).toContain("Programmed: False — 1 Envoy(s) of fleet edge rejected generation 3: Error adding/updating listener(s)");
    expect(text).toContain("    second line");
    expect(explainL7(gwInput({ programmed: stored(programmed({ allocationVersion: 2 })) })).programmed.status).toBe("Unknown");
    expect(explainL7(gwInput()).programmed.summary).toMatch(/no lb.programmed report yet/);
  });

  it("throws UnknownService naming the subject it looked at", () => {
    try {
      explainL7({ kind: "ingress", ref: { cluster: "a", namespace: "shop", name: "x.y" }, parents: [] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).reason).toBe("UnknownService");
      expect((err as CliError).message).toContain("lb.resource.a.ingress.shop.x.y");
    }
  });
});

describe("explainL7: routes", () => {
  const routeInput = (over: Partial<L7ExplainInput> = {}): L7ExplainInput => ({
    kind: "httproute",
    ref: { cluster: "a", namespace: "shop", name: "store" },
    resource: stored(route),
    parents: [{ ref: route.parentRefs[0] ?? { namespace: "shop", name: "gw" }, allocation: stored(gatewayAllocation) }],
    ...over,
  });

  it("is served on the parent listener its sectionName names, under the hostnames both hold", () => {
    const e = explainL7(routeInput());
    expect(e.state).toBe("Attached");
    expect(e.listeners.map((l) => [l.name, l.served])).toEqual([["web", ["store.example.com"]]]);
    expect(e.hostnames.claimed).toEqual(["store.example.com"]);
    expect(e.refusedRefs.map((r) => `${r.name} ${r.reason}`)).toEqual(["gone BackendNotFound"]);
    expect(e.summary).toBe("Served on 1 listener(s) under store.example.com.");
  });

  it("a parent listener refused the route's hostname: not served, with the reason", () => {
    const conflicted: L7Allocation = {
      ...gatewayAllocation,
      state: "Pending",
      listeners: [
        listener({
          state: "Pending",
          ip: "",
          port: 0,
          refusedHostnames: [{ hostname: "*.example.com", reason: "HostnameConflict", message: "taken" }],
        }),
      ],
    };
    const e = explainL7(routeInput({ parents: [{ ref: { namespace: "shop", name: "gw" }, allocation: stored(conflicted) }] }));
    expect(e.state).toBe("NotAttached");
    expect(e.hostnames.refused.map((r) => r.reason)).toEqual(["HostnameConflict"]);
  });

  it("on an exclusive listener (no hostname) a route without hostnames takes every hostname", () => {
    const exclusive: L7Allocation = { ...gatewayAllocation, listeners: [listener({ shared: false, claimedHostnames: [] })] };
    const any = { ...route, hostnames: [] };
    const e = explainL7(
      routeInput({ resource: stored(any), parents: [{ ref: { namespace: "shop", name: "gw" }, allocation: stored(exclusive) }] }),
    );
    expect(e.listeners.map((l) => l.served)).toEqual([["*"]]);
    expect(e.state).toBe("Attached");
  });

  it("a parent without an allocation is a note, not a crash", () => {
    const e = explainL7(routeInput({ parents: [{ ref: { namespace: "shop", name: "gw" } }] }));
    expect(e.state).toBe("NotAttached");
    expect(e.notes).toContain("parent Gateway shop/gw has no allocation yet");
  });

  it("a tombstone says Deleted", () => {
    const e = explainL7(
      routeInput({ resource: stored({ cluster: "a", kind: "httproute", namespace: "shop", name: "store", uid: "r1" }), parents: [] }),
    );
    expect(e.state).toBe("Deleted");
    expect(e.uid).toBe("r1");
  });
});

describe("combineProgrammed", () => {
  const report = (source: string, seq: number, over: Partial<Programmed>) => ({ source, stored: stored(programmed(over), seq) });

  it("sums the newest report of each replica about the newest generation; a NACK on one replica stays visible", () => {
    const nack = { typeUrl: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", node: "edge-2", message: "bad regex" };
    const combined = combineProgrammed([
      report("sharedlb/xds-gateway/gw-0", 1, { allocationVersion: 2, acked: 3 }),
      report("sharedlb/xds-gateway/gw-1", 2, { allocationVersion: 3, acked: 0, nacked: 1, errorDetail: nack }),
      report("sharedlb/xds-gateway/gw-0", 3, { allocationVersion: 3, acked: 2 }),
    ]);
    expect(combined?.data).toMatchObject({ allocationVersion: 3, acked: 2, nacked: 1, errorDetail: nack });
    expect(combined?.seq).toBe(3);
    expect(explainProgrammed(combined, 3, "gateway").status).toBe("False");
  });

  it("a replica's newer report replaces its older one", () => {
    const combined = combineProgrammed([
      report("sharedlb/xds-gateway/gw-0", 1, { nacked: 1, acked: 0 }),
      report("sharedlb/xds-gateway/gw-0", 2, { nacked: 0, acked: 1 }),
    ]);
    expect(combined?.data).toMatchObject({ acked: 1, nacked: 0 });
    expect(combineProgrammed([])).toBeUndefined();
  });
});
