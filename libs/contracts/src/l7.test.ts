import { describe, expect, it } from "vitest";
import {
  ContractViolation,
  decodeAllocationMessage,
  decodeAnyAllocationMessage,
  decodeEvent,
  decodeProgrammedMessage,
  decodeResourceMessage,
  describeDataErrors,
  encodeEvent,
  filters,
  type GatewayResource,
  isServiceAllocationSubject,
  type L7Allocation,
  l7AllocationState,
  makeEvent,
  parseAllocationSubject,
  parseResourceSubject,
  type RouteResource,
  subjects,
  validateData,
} from "./index.js";
import { reasonOf } from "../test/reason.js";

const reason = (fn: () => unknown) => reasonOf(ContractViolation, fn);

const route: RouteResource = {
  cluster: "a",
  namespace: "shop",
  name: "web.v2",
  uid: "u-r",
  generation: 3,
  sourceKind: "HTTPRoute",
  parentRefs: [{ namespace: "shop", name: "edge", sectionName: "https" }],
  hostnames: ["shop.example.com", "*.shop.example.com"],
  rules: [
    {
      matches: [{ path: { type: "PathPrefix", value: "/api" }, method: "GET", headers: [{ name: "x-v", value: "2", type: "Exact" }] }],
      filters: [
        { type: "RequestHeaderModifier", headers: { set: [{ name: "x-a", value: "1" }], add: [], remove: ["x-b"] } },
        { type: "RequestRedirect", scheme: "https", statusCode: 301 },
      ],
      backends: [{ namespace: "shop", service: "web", port: 8080, weight: 80, nodePort: 31080, companion: "web-sharedlb-8080" }],
      timeouts: { requestMs: 10_000 },
    },
  ],
  refusedRefs: [
    {
      field: "rules[0].backendRefs[1]",
      group: "",
      kind: "Service",
      namespace: "other",
      name: "db",
      reason: "RefNotPermitted",
      message: "no ReferenceGrant in other allows HTTPRoute from shop",
    },
  ],
  annotations: {},
};

const gateway: GatewayResource = {
  cluster: "a",
  namespace: "shop",
  name: "edge",
  uid: "u-g",
  generation: 1,
  gatewayClassName: "sharedlb",
  listeners: [
    {
      name: "https",
      protocol: "HTTPS",
      port: 443,
      hostname: "*.example.com",
      tls: { mode: "Terminate", certificateRefs: [{ namespace: "shop", name: "shop-tls" }] },
      allowedRoutes: { allNamespaces: false, namespaces: ["shop"], kinds: ["HTTPRoute", "GRPCRoute"] },
    },
  ],
  annotations: {},
  refusedRefs: [],
};

const l7Allocation: L7Allocation = {
  cluster: "a",
  namespace: "shop",
  name: "edge",
  kind: "gateway",
  uid: "u-g",
  generation: 1,
  state: "Allocated",
  listeners: [
    {
      name: "https",
      protocol: "HTTPS",
      state: "Allocated",
      pool: "public",
      ip: "203.0.113.10",
      port: 443,
      shared: true,
      claimedHostnames: ["shop.example.com"],
      refusedHostnames: [{ hostname: "api.example.com", reason: "HostnameConflict", message: "api.example.com is taken on 203.0.113.10:443" }],
      reason: "",
      message: "",
    },
  ],
  reason: "",
  message: "",
  resourceSequence: 12,
};

describe("L7 subjects", () => {
  it("gives each L7 kind its own token, names with dots as underscores, and parses them back", () => {
    expect(subjects.l7Resource("a", "httproute", "shop", "web.v2")).toBe("lb.resource.a.httproute.shop.web_v2");
    expect(subjects.l7Resource("a", "ingress", "shop", "web.v2")).toBe("lb.resource.a.ingress.shop.web_v2");
    expect(subjects.l7Resource("a", "secret", "shop", "tls")).toBe("lb.resource.a.secret.shop.tls");
    expect(parseResourceSubject("lb.resource.a.grpcroute.shop.web_v2")).toEqual({
      cluster: "a",
      kind: "grpcroute",
      namespace: "shop",
      name: "web.v2",
    });
    expect(reason(() => parseResourceSubject("lb.resource.a.route.shop.web"))).toBe("InvalidSubject");
    expect(reason(() => subjects.l7Resource("a", "pod" as "ingress", "shop", "x"))).toBe("InvalidName");
  });

  it("puts L7 allocations one token below a Service's, so *.*.* still means Services only", () => {
    const s = subjects.l7Allocation("a", "shop", "web.v2", "httproute");
    expect(s).toBe("lb.allocation.a.shop.web_v2.httproute");
    expect(isServiceAllocationSubject(s)).toBe(false);
    expect(isServiceAllocationSubject(subjects.allocation("a", "shop", "web"))).toBe(true);
    expect(filters.serviceAllocations.split(".").length).toBe(subjects.allocation("a", "shop", "web").split(".").length);
    expect(parseAllocationSubject(s)).toEqual({ cluster: "a", namespace: "shop", name: "web.v2", kind: "httproute" });
    expect(parseAllocationSubject("lb.allocation.a.shop.web")).toMatchObject({ kind: "service" });
    expect(reason(() => parseAllocationSubject("lb.allocation.a.shop.web.service"))).toBe("InvalidSubject");
    expect(reason(() => parseAllocationSubject("lb.allocation.a.shop.web.secret"))).toBe("InvalidSubject");
  });

  it("builds programmed subjects with a kind token only for L7 objects", () => {
    expect(subjects.programmed("a", "shop", "web")).toBe("lb.programmed.a.shop.web");
    expect(subjects.programmed("a", "shop", "edge.x", "gateway")).toBe("lb.programmed.a.shop.edge_x.gateway");
    expect(reason(() => subjects.programmed("a", "shop", "edge.x"))).toBe("InvalidName");
  });
});

describe("L7 payloads", () => {
  it("accepts normalized gateways and routes and round-trips them on their subjects", () => {
    const gw = makeEvent({ type: "io.sharedlb.gateway.v1", source: "sharedlb/watcher/a", subject: "a/shop/edge", data: gateway });
    expect(decodeResourceMessage(subjects.l7Resource("a", "gateway", "shop", "edge"), encodeEvent(gw)).event).toEqual(gw);
    const rt = makeEvent({ type: "io.sharedlb.route.v1", source: "sharedlb/watcher/a", subject: "a/shop/web.v2", data: route });
    expect(decodeResourceMessage("lb.resource.a.httproute.shop.web_v2", encodeEvent(rt)).event.data).toEqual(route);
  });

  it("refuses a route on another kind's subject, so an Ingress cannot overwrite an HTTPRoute", () => {
    const rt = makeEvent({ type: "io.sharedlb.route.v1", source: "sharedlb/watcher/a", subject: "a/shop/web.v2", data: route });
    expect(reason(() => decodeResourceMessage("lb.resource.a.ingress.shop.web_v2", encodeEvent(rt)))).toBe("SubjectMismatch");
    expect(reason(() => decodeResourceMessage("lb.resource.a.gateway.shop.web_v2", encodeEvent(rt)))).toBe("SubjectMismatch");
  });

  it("names the field of an invalid hostname, regex-free method or unknown refusal reason", () => {
    expect(describeDataErrors("io.sharedlb.route.v1", { ...route, hostnames: ["Shop.Example.com"] })[0]).toMatch(/^\/hostnames\/0/);
    expect(validateData("io.sharedlb.route.v1", { ...route, hostnames: ["a.*.example.com"] })).toBe(false);
    const badRule = { ...route.rules[0], matches: [{ method: "get" }] };
    expect(describeDataErrors("io.sharedlb.route.v1", { ...route, rules: [badRule] })[0]).toMatch(/^\/rules\/0\/matches\/0\/method/);
    const badRef = { ...route.refusedRefs[0], reason: "Nope" };
    expect(validateData("io.sharedlb.route.v1", { ...route, refusedRefs: [badRef] })).toBe(false);
    expect(validateData("io.sharedlb.gateway.v1", { ...gateway, listeners: [{ ...gateway.listeners[0], protocol: "QUIC" }] })).toBe(false);
  });

  it("accepts an Ingress with a default backend and TLS", () => {
    const ingress: RouteResource = {
      ...route,
      sourceKind: "Ingress",
      parentRefs: [],
      rules: [{ hostnames: ["shop.example.com"], matches: [{ path: { type: "Exact", value: "/" } }], filters: [], backends: [] }],
      defaultBackend: { namespace: "shop", service: "web", port: 80, weight: 1, nodePort: 30080 },
      tls: [{ hosts: ["shop.example.com"], secret: { namespace: "shop", name: "shop-tls" } }],
    };
    expect(describeDataErrors("io.sharedlb.route.v1", ingress)).toEqual([]);
  });
});

describe("L7 allocations", () => {
  it("decode on their own subjects; a Service-only decoder refuses them instead of misreading them", () => {
    const ev = makeEvent({
      type: "io.sharedlb.l7allocation.v1",
      source: "sharedlb/allocator/r1",
      subject: "a/shop/edge",
      data: l7Allocation,
    });
    const subject = subjects.l7Allocation("a", "shop", "edge", "gateway");
    const decoded = decodeAnyAllocationMessage(subject, encodeEvent(ev));
    expect(decoded.kind).toBe("gateway");
    expect(decoded.event.data).toEqual(l7Allocation);
    expect(reason(() => decodeAllocationMessage(subject, encodeEvent(ev)))).toBe("SubjectMismatch");
    expect(reason(() => decodeAnyAllocationMessage(subjects.l7Allocation("a", "shop", "edge", "ingress"), encodeEvent(ev)))).toBe(
      "SubjectMismatch",
    );
    expect(reason(() => decodeAnyAllocationMessage("lb.allocation.a.shop.edge", encodeEvent(ev)))).toBe("SubjectMismatch");
  });

  it("summarizes the object state from its listeners", () => {
    const l = (state: L7Allocation["state"]) => ({ state });
    expect(l7AllocationState([l("Allocated"), l("Allocated")])).toBe("Allocated");
    expect(l7AllocationState([l("Allocated"), l("Pending"), l("Failed")])).toBe("Pending");
    expect(l7AllocationState([l("Allocated"), l("Failed")])).toBe("Failed");
    expect(l7AllocationState([])).toBe("Pending");
  });

  it("accepts only the stable hostname refusal reasons", () => {
    const listener = { ...l7Allocation.listeners[0], refusedHostnames: [{ hostname: "x.example.com", reason: "Taken", message: "" }] };
    expect(validateData("io.sharedlb.l7allocation.v1", { ...l7Allocation, listeners: [listener] })).toBe(false);
  });
});

describe("programmed and tombstones", () => {
  it("decodes programmed reports against their subject, with Envoy's NACK text", () => {
    const ev = makeEvent({
      type: "io.sharedlb.programmed.v1",
      source: "sharedlb/xds-gateway/gw-1",
      subject: "a/shop/web.v2",
      data: {
        cluster: "a",
        namespace: "shop",
        name: "web.v2",
        kind: "httproute",
        allocationVersion: 4,
        fleet: "edge",
        acked: 2,
        nacked: 1,
        errorDetail: { typeUrl: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", node: "envoy-1", message: "bad regex" },
      },
    });
    expect(decodeProgrammedMessage("lb.programmed.a.shop.web_v2.httproute", encodeEvent(ev)).event.data.nacked).toBe(1);
    expect(reason(() => decodeProgrammedMessage("lb.programmed.a.shop.web_v2.grpcroute", encodeEvent(ev)))).toBe("SubjectMismatch");
  });

  it("accepts tombstones of every L7 kind on their subjects", () => {
    const ev = makeEvent({
      type: "io.sharedlb.deleted.v1",
      source: "sharedlb/watcher/a",
      subject: "a/shop/tls",
      data: { cluster: "a", kind: "secret", namespace: "shop", name: "tls", uid: "u" },
    });
    expect(decodeResourceMessage("lb.resource.a.secret.shop.tls", encodeEvent(ev)).subject.kind).toBe("secret");
    expect(reason(() => decodeResourceMessage("lb.resource.a.gateway.shop.tls", encodeEvent(ev)))).toBe("SubjectMismatch");
    expect(reason(() => decodeEvent(JSON.stringify({ ...ev, data: { ...ev.data, kind: "pod" } })))).toBe("InvalidPayload");
  });
});
