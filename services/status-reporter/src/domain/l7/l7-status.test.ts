import { describe, expect, it } from "vitest";
import {
  conflictedListener,
  gatewayObject,
  gatewayResource,
  httpRouteObject,
  l7Allocation,
  listenerAllocation,
  programmed,
  refusedRef,
  routeResource,
} from "../../test-support/l7-fixtures.js";
import { readGateway, readGatewayClass, readIngress, readRoute } from "./gateway-api.js";
import { desiredGatewayClassConditions } from "./gatewayclass-status.js";
import { desiredGatewayStatus } from "./gateway-status.js";
import { desiredIngressStatus } from "./ingress-status.js";
import { type L7StatusPatch, planGatewayStatus, planIngressStatus, planRouteParents } from "./l7-plan.js";
import { desiredRouteParents } from "./route-status.js";
import { L7World, workKey } from "./world.js";

const C = "a";
const NS = "shop";
const now = new Date("2026-12-01T10:00:00Z");
const later = new Date("2026-12-01T11:00:00Z");
const GW1 = "sharedlb/xds-gateway/gw-1";
const GW2 = "sharedlb/xds-gateway/gw-2";

/** A merge patch of `status` as the API server applies it (lists replaced whole). */
function applied<T extends { status?: unknown }>(obj: T, patch: L7StatusPatch | undefined): T {
  if (!patch) return obj;
  return { ...obj, status: { ...(obj.status as object), ...patch.status } };
}

function servedWorld(opts: { generation?: number; acked?: Partial<Parameters<typeof programmed>[5]> } = {}): L7World {
  const w = new L7World();
  w.setGateway(NS, "edge", gatewayResource(C, NS, "edge"), 1);
  w.setAllocation(l7Allocation(C, "gateway", NS, "edge", "uid-edge", [listenerAllocation("http")]), 2);
  w.setRoute("httproute", NS, "web", routeResource(C, NS, "web", [{ namespace: NS, name: "edge" }]), 3);
  if (opts.acked) w.setProgrammed(programmed(C, "gateway", NS, "edge", opts.generation ?? 1, opts.acked), GW1, 4);
  return w;
}

const cond = <T extends { type: string }>(conds: readonly T[] | undefined, type: string): T | undefined =>
  conds?.find((c) => c.type === type);

describe("a served Gateway", () => {
  it("gets its address, Accepted, and Programmed True only once the fleet ACKed its generation", () => {
    const gw = readGateway(gatewayObject(NS, "edge", { generation: 3 }));
    const waiting = desiredGatewayStatus(gw, servedWorld().gateway(NS, "edge"));
    if (waiting.action !== "write") throw new Error("expected a write");
    expect(waiting.status.addresses).toEqual([{ type: "IPAddress", value: "203.0.113.10" }]);
    expect(cond(waiting.status.conditions, "Accepted")).toMatchObject({ status: "True", reason: "Accepted", observedGeneration: 3 });
    expect(cond(waiting.status.conditions, "Programmed")).toMatchObject({ status: "Unknown", reason: "Pending", observedGeneration: 3 });

    // A report about generation 1 says nothing about generation 3.
    const stale = desiredGatewayStatus(gw, servedWorld({ generation: 1, acked: {} }).gateway(NS, "edge"));
    expect(stale.action === "write" && cond(stale.status.conditions, "Programmed")?.status).toBe("Unknown");

    const pending = desiredGatewayStatus(gw, servedWorld({ generation: 3, acked: { acked: 1, pending: 1 } }).gateway(NS, "edge"));
    expect(pending.action === "write" && cond(pending.status.conditions, "Programmed")?.status).toBe("Unknown");

    const acked = desiredGatewayStatus(gw, servedWorld({ generation: 3, acked: {} }).gateway(NS, "edge"));
    if (acked.action !== "write") throw new Error("expected a write");
    expect(cond(acked.status.conditions, "Programmed")).toMatchObject({ status: "True", reason: "Programmed", observedGeneration: 3 });
    const [listener] = acked.status.listeners;
    expect(listener).toMatchObject({
      name: "http",
      attachedRoutes: 1,
      supportedKinds: [
        { group: "gateway.networking.k8s.io", kind: "HTTPRoute" },
        { group: "gateway.networking.k8s.io", kind: "GRPCRoute" },
      ],
    });
    for (const type of ["Accepted", "Programmed", "ResolvedRefs"]) expect(cond(listener?.conditions, type)?.status).toBe("True");
    expect(cond(listener?.conditions, "Conflicted")).toMatchObject({ status: "False", reason: "NoConflicts" });
    expect(listener?.conditions.every((c) => c.observedGeneration === 3)).toBe(true);
  });

  it("is Programmed False with Envoy's own text when a fleet NACKs its generation, and says so in an Event", () => {
    const text = "Proto constraint validation failed (RouteConfigurationValidationError.VirtualHosts[0]: domains must be unique)";
    const gw = readGateway(gatewayObject(NS, "edge"));
    const v = desiredGatewayStatus(
      gw,
      servedWorld({ acked: { acked: 1, nacked: 1, errorDetail: { typeUrl: "rds", node: "envoy-1", message: text } } }).gateway(NS, "edge"),
    );
    if (v.action !== "write") throw new Error("expected a write");
    expect(cond(v.status.conditions, "Programmed")).toMatchObject({
      status: "False",
      reason: "Invalid",
      message: expect.stringContaining(text),
    });
    expect(cond(v.status.listeners[0]?.conditions, "Programmed")).toMatchObject({ status: "False", reason: "Invalid" });
    expect(v.events).toContainEqual(
      expect.objectContaining({ type: "Warning", reason: "ConfigurationRejected", note: expect.stringContaining(text) }),
    );
  });

  it("shows a hostname held by another tenant as Conflicted=HostnameConflict on the listener, with an Event", () => {
    const w = new L7World();
    w.setGateway(NS, "edge", gatewayResource(C, NS, "edge"), 1);
    w.setAllocation(l7Allocation(C, "gateway", NS, "edge", "uid-edge", [conflictedListener("http", "shop.example.com")]), 2);
    const v = desiredGatewayStatus(readGateway(gatewayObject(NS, "edge")), w.gateway(NS, "edge"));
    if (v.action !== "write") throw new Error("expected a write");
    const l = v.status.listeners[0];
    expect(cond(l?.conditions, "Conflicted")).toMatchObject({
      status: "True",
      reason: "HostnameConflict",
      message: expect.stringContaining("shop.example.com"),
    });
    expect(cond(l?.conditions, "Accepted")?.status).toBe("False");
    expect(cond(l?.conditions, "Programmed")?.status).toBe("False");
    expect(v.status.addresses).toEqual([]);
    expect(cond(v.status.conditions, "Programmed")).toMatchObject({ status: "False", reason: "AddressNotAssigned" });
    expect(v.events).toContainEqual(
      expect.objectContaining({ type: "Warning", reason: "HostnameConflict", note: expect.stringContaining("shop.example.com") }),
    );
  });

  it("has ResolvedRefs False with the watcher's reason for a refused certificate", () => {
    const obj = gatewayObject(NS, "edge");
    obj.spec.listeners = [
      {
        name: "https",
        protocol: "HTTPS",
        port: 443,
        hostname: "shop.example.com",
        tls: { certificateRefs: [{ name: "shop-tls" }] },
      } as never,
    ];
    const w = new L7World();
    const refusal = refusedRef({
      field: "spec.listeners[0].tls.certificateRefs[0]",
      kind: "Secret",
      name: "shop-tls",
      reason: "InvalidCertificateRef",
      message: "certificate expired",
    });
    w.setGateway(NS, "edge", gatewayResource(C, NS, "edge", { refusedRefs: [refusal] }), 1);
    w.setAllocation(l7Allocation(C, "gateway", NS, "edge", "uid-edge", [listenerAllocation("https", { protocol: "HTTPS", port: 443 })]), 2);
    const v = desiredGatewayStatus(readGateway(obj), w.gateway(NS, "edge"));
    if (v.action !== "write") throw new Error("expected a write");
    expect(cond(v.status.listeners[0]?.conditions, "ResolvedRefs")).toMatchObject({
      status: "False",
      reason: "InvalidCertificateRef",
      message: expect.stringContaining("certificate expired"),
    });
    expect(v.events).toContainEqual(expect.objectContaining({ reason: "InvalidCertificateRef" }));
  });

  it("sums the reports of the fleet's gateway replicas: a NACK on one is not hidden by another's later ACK", () => {
    const gw = readGateway(gatewayObject(NS, "edge", { generation: 2 }));
    const w = servedWorld();
    const programmedOf = () => {
      const v = desiredGatewayStatus(gw, w.gateway(NS, "edge"));
      return v.action === "write" ? cond(v.status.conditions, "Programmed") : undefined;
    };
    // gw-2 has none of the fleet's Envoys connected: it counts nothing, which is no reason to wait.
    w.setProgrammed(programmed(C, "gateway", NS, "edge", 2, { acked: 0, pending: 0 }), GW2, 5);
    w.setProgrammed(programmed(C, "gateway", NS, "edge", 2, { acked: 1, pending: 1 }), GW1, 6);
    expect(programmedOf()?.status).toBe("Unknown");
    w.setProgrammed(programmed(C, "gateway", NS, "edge", 2, { acked: 2, pending: 0 }), GW1, 7);
    expect(programmedOf()).toMatchObject({ status: "True", message: expect.stringContaining("applied by 2 Envoy(s)") });
    w.setProgrammed(
      programmed(C, "gateway", NS, "edge", 2, { acked: 0, nacked: 1, errorDetail: { typeUrl: "lds", node: "envoy-9", message: "bad" } }),
      GW2,
      8,
    );
    w.setProgrammed(programmed(C, "gateway", NS, "edge", 2, { acked: 3 }), GW1, 9);
    expect(programmedOf()).toMatchObject({ status: "False", reason: "Invalid", message: expect.stringContaining("envoy-9") });
    // An older message of a replica never replaces its newer one.
    w.setProgrammed(programmed(C, "gateway", NS, "edge", 2, { acked: 1 }), GW2, 3);
    expect(programmedOf()?.status).toBe("False");
  });

  it("is written once: a Gateway that carries its status gets no second write, and keeps its transition times", () => {
    const obj = gatewayObject(NS, "edge");
    const world = servedWorld({ acked: {} });
    const v = desiredGatewayStatus(readGateway(obj), world.gateway(NS, "edge"));
    if (v.action !== "write") throw new Error("expected a write");
    const patch = planGatewayStatus(readGateway(obj), v.status, now);
    expect(patch?.metadata.resourceVersion).toBe("10");
    const written = applied(obj, patch);
    const again = desiredGatewayStatus(readGateway(written), world.gateway(NS, "edge"));
    if (again.action !== "write") throw new Error("expected a write");
    expect(planGatewayStatus(readGateway(written), again.status, later)).toBeUndefined();
    // A new generation changes observedGeneration only: the times of unchanged statuses stay.
    const bumped = { ...written, metadata: { ...written.metadata, generation: 2 } };
    const next = desiredGatewayStatus(readGateway(bumped), world.gateway(NS, "edge"));
    if (next.action !== "write") throw new Error("expected a write");
    const p2 = planGatewayStatus(readGateway(bumped), next.status, later);
    const conditions = (p2?.status.conditions ?? []) as { type: string; lastTransitionTime: string; observedGeneration: number }[];
    const accepted = conditions.find((c) => c.type === "Accepted");
    expect(accepted).toMatchObject({ observedGeneration: 2, lastTransitionTime: "2026-12-01T10:00:00Z" });
  });

  it("gets back the CRD's initial status when it leaves sharedlb, and an unknown Gateway is left alone", () => {
    const w = servedWorld({ acked: {} });
    const obj = gatewayObject(NS, "edge");
    const v = desiredGatewayStatus(readGateway(obj), w.gateway(NS, "edge"));
    const written = applied(obj, v.action === "write" ? planGatewayStatus(readGateway(obj), v.status, now) : undefined);
    w.setGateway(NS, "edge", undefined, 10);
    const cleared = desiredGatewayStatus(readGateway(written), w.gateway(NS, "edge"));
    if (cleared.action !== "write") throw new Error("expected a write");
    expect(cleared.status).toMatchObject({ addresses: [], listeners: [] });
    expect(cleared.status.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Accepted", "Unknown", "Pending"],
      ["Programmed", "Unknown", "Pending"],
    ]);
    expect(desiredGatewayStatus(readGateway(gatewayObject(NS, "other")), w.gateway(NS, "other")).action).toBe("leave");
  });
});

describe("route parents", () => {
  const otherEntry = {
    controllerName: "example.com/other",
    parentRef: { name: "theirs" },
    conditions: [
      {
        type: "Accepted",
        status: "True",
        reason: "Accepted",
        message: "",
        observedGeneration: 1,
        lastTransitionTime: "2026-01-01T00:00:00Z",
      },
    ],
  };

  it("get sharedlb's entry (controllerName, parentRef as written, generation on every condition) next to other controllers' untouched", () => {
    const w = servedWorld();
    w.setRoute("httproute", NS, "web", routeResource(C, NS, "web", [{ namespace: NS, name: "edge" }], { generation: 2 }), 5);
    w.setProgrammed(programmed(C, "httproute", NS, "web", 2), GW1, 6);
    const obj = httpRouteObject(NS, "web", [{ name: "theirs" }, { name: "edge" }], { generation: 2, status: { parents: [otherEntry] } });
    const route = readRoute(obj, "httproute");
    const v = desiredRouteParents(route, w.route("httproute", NS, "web"));
    if (v.action !== "write") throw new Error("expected a write");
    const patch = planRouteParents(route, v.status, now);
    const parents = patch?.status.parents as {
      controllerName: string;
      parentRef: unknown;
      conditions: { type: string; status: string; observedGeneration: number }[];
    }[];
    expect(parents[0]).toEqual(otherEntry);
    expect(parents[1]).toMatchObject({ controllerName: "sharedlb.io/gateway-controller", parentRef: { name: "edge" } });
    expect(parents[1]?.conditions.map((c) => [c.type, c.status, c.observedGeneration])).toEqual([
      ["Accepted", "True", 2],
      ["ResolvedRefs", "True", 2],
      ["Programmed", "True", 2],
    ]);
    const written = applied(obj, patch);
    expect(planRouteParents(readRoute(written, "httproute"), v.status, later)).toBeUndefined();
  });

  it("say why the watcher refused a parent or a backend", () => {
    const w = servedWorld();
    w.setRoute(
      "httproute",
      NS,
      "web",
      routeResource(C, NS, "web", [], {
        refusedRefs: [
          refusedRef({
            field: "spec.parentRefs[0]",
            group: "gateway.networking.k8s.io",
            kind: "Gateway",
            name: "edge",
            reason: "NotAllowedByListeners",
            message: "namespace shop is not allowed",
          }),
          refusedRef({ reason: "BackendNotFound", message: "Service shop/gone does not exist" }),
          refusedRef({
            field: "spec.rules[1]",
            kind: "",
            name: "",
            reason: "UnsupportedValue",
            message: "rule 1 is not served: invalid RE2 regex",
          }),
        ],
      }),
      5,
    );
    const route = readRoute(httpRouteObject(NS, "web", [{ name: "edge" }]), "httproute");
    const v = desiredRouteParents(route, w.route("httproute", NS, "web"));
    if (v.action !== "write") throw new Error("expected a write");
    expect(cond(v.status[0]?.conditions, "Accepted")).toMatchObject({ status: "False", reason: "NotAllowedByListeners" });
    expect(cond(v.status[0]?.conditions, "ResolvedRefs")).toMatchObject({
      status: "False",
      reason: "BackendNotFound",
      message: expect.stringContaining("shop/gone"),
    });
    expect(cond(v.status[0]?.conditions, "PartiallyInvalid")).toMatchObject({
      status: "True",
      reason: "UnsupportedValue",
      message: expect.stringContaining("RE2"),
    });
    expect(v.events.map((e) => e.reason).sort()).toEqual(["BackendNotFound", "NotAllowedByListeners", "UnsupportedValue"]);
  });

  it("are not Accepted when every listener they attach to lost its hostname to another tenant", () => {
    const w = new L7World();
    w.setGateway(NS, "edge", gatewayResource(C, NS, "edge"), 1);
    w.setAllocation(l7Allocation(C, "gateway", NS, "edge", "uid-edge", [conflictedListener("http", "shop.example.com")]), 2);
    w.setRoute("httproute", NS, "web", routeResource(C, NS, "web", [{ namespace: NS, name: "edge" }]), 3);
    const v = desiredRouteParents(readRoute(httpRouteObject(NS, "web", [{ name: "edge" }]), "httproute"), w.route("httproute", NS, "web"));
    if (v.action !== "write") throw new Error("expected a write");
    expect(cond(v.status[0]?.conditions, "Accepted")).toMatchObject({ status: "False", reason: "HostnameConflict" });
    expect(v.status[0]?.conditions.find((c) => c.type === "Accepted")?.message).not.toMatch(/tenant [a-z]+\//);
    expect(v.events).toContainEqual(expect.objectContaining({ reason: "HostnameConflict" }));
  });

  it("lose only sharedlb's entry when the route leaves sharedlb", () => {
    const w = servedWorld();
    const ours = { controllerName: "sharedlb.io/gateway-controller", parentRef: { name: "edge" }, conditions: otherEntry.conditions };
    const obj = httpRouteObject(NS, "web", [{ name: "edge" }], { status: { parents: [otherEntry, ours] } });
    w.setRoute("httproute", NS, "web", undefined, 9);
    const route = readRoute(obj, "httproute");
    const v = desiredRouteParents(route, w.route("httproute", NS, "web"));
    if (v.action !== "write") throw new Error("expected a write");
    expect(planRouteParents(route, v.status, now)?.status.parents).toEqual([otherEntry]);
  });
});

describe("Ingress and GatewayClass", () => {
  const ingressObject = (status: unknown = {}) => ({
    metadata: { namespace: NS, name: "shop", uid: "uid-shop", generation: 1, resourceVersion: "5" },
    status,
  });

  it("an Ingress gets the IP of its listeners, and loses it when it leaves sharedlb", () => {
    const w = new L7World();
    w.setRoute("ingress", NS, "shop", routeResource(C, NS, "shop", [], { sourceKind: "Ingress", uid: "uid-shop" }), 1);
    w.setAllocation(
      l7Allocation(C, "ingress", NS, "shop", "uid-shop", [
        listenerAllocation("http"),
        listenerAllocation("https", {
          protocol: "HTTPS",
          port: 443,
          refusedHostnames: [{ hostname: "b.example.com", reason: "HostnameConflict", message: "taken" }],
        }),
      ]),
      2,
    );
    const ing = readIngress(ingressObject());
    const v = desiredIngressStatus(ing, w.ingress(NS, "shop"));
    if (v.action !== "write") throw new Error("expected a write");
    expect(planIngressStatus(ing, v.status)?.status).toEqual({ loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } });
    expect(v.events).toContainEqual(
      expect.objectContaining({ reason: "HostnameConflict", note: expect.stringContaining("b.example.com") }),
    );
    const carrying = readIngress(ingressObject({ loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } }));
    expect(planIngressStatus(carrying, v.status)).toBeUndefined();
    w.setAllocation(l7Allocation(C, "ingress", NS, "shop", "uid-shop", [], { state: "Released" }), 3);
    const gone = desiredIngressStatus(carrying, w.ingress(NS, "shop"));
    if (gone.action !== "write") throw new Error("expected a write");
    expect(planIngressStatus(carrying, gone.status)?.status).toEqual({ loadBalancer: { ingress: null } });
  });

  it("a GatewayClass of sharedlb's controller is Accepted; another controller's is not touched", () => {
    const gc = (controllerName: string) => ({
      metadata: { name: "sharedlb", uid: "u", generation: 4, resourceVersion: "1" },
      spec: { controllerName },
    });
    expect(desiredGatewayClassConditions(readGatewayClass(gc("sharedlb.io/gateway-controller")))).toEqual([
      { type: "Accepted", status: "True", reason: "Accepted", message: "handled by sharedlb", observedGeneration: 4 },
    ]);
    expect(desiredGatewayClassConditions(readGatewayClass(gc("example.com/other")))).toBeUndefined();
  });
});

describe("the L7 world", () => {
  it("never lets an older message overwrite a newer one, and names the objects a change affects", () => {
    const w = servedWorld();
    expect(w.setAllocation(l7Allocation(C, "gateway", NS, "edge", "uid-edge", [], { state: "Released" }), 1)).toEqual([]);
    expect(w.gateway(NS, "edge").presence).toBe("served");
    expect(w.setAllocation(l7Allocation(C, "gateway", NS, "edge", "uid-edge", [listenerAllocation("http")]), 7)).toEqual([
      workKey("gateway", NS, "edge"),
      workKey("httproute", NS, "web"),
    ]);
    // A route moving to another Gateway touches both Gateways (attachedRoutes).
    expect(w.setRoute("httproute", NS, "web", routeResource(C, NS, "web", [{ namespace: NS, name: "other" }]), 8).sort()).toEqual(
      [workKey("httproute", NS, "web"), workKey("gateway", NS, "edge"), workKey("gateway", NS, "other")].sort(),
    );
    expect(w.gatewayClasses()).toEqual(["sharedlb"]);
  });
});
