import { describe, expect, it } from "vitest";
import {
  ContractViolation,
  decodeAllocationMessage,
  decodeEvent,
  decodeResourceMessage,
  describeDataErrors,
  encodeEvent,
  formatAllocatedPorts,
  makeEvent,
  parsePortMappings,
  parseResourceSubject,
  PortMappingSyntaxError,
  subjects,
  validateData,
} from "./index.js";
import { reasonOf } from "../test/reason.js";

const service = {
  cluster: "a",
  namespace: "shop",
  name: "web",
  uid: "u-1",
  ports: [{ name: "https", protocol: "TCP" as const, port: 443, nodePort: 31443 }],
  externalTrafficPolicy: "Cluster" as const,
  healthCheckNodePort: 0,
  loadBalancerClass: "sharedlb.io/envoy",
  annotations: { "sharedlb.io/port-policy": "any" },
};

const reason = (fn: () => unknown) => reasonOf(ContractViolation, fn);

describe("subjects", () => {
  it("builds the contract's subjects and parses them back, dots mapped to underscores", () => {
    expect(subjects.service("a", "shop", "web")).toBe("lb.resource.a.service.shop.web");
    expect(subjects.node("a", "worker-1.example.com")).toBe("lb.resource.a.node.worker-1_example_com");
    expect(subjects.allocation("a", "shop", "web")).toBe("lb.allocation.a.shop.web");
    expect(parseResourceSubject("lb.resource.a.node.worker-1_example_com")).toEqual({
      cluster: "a",
      kind: "node",
      namespace: "",
      name: "worker-1.example.com",
    });
    expect(parseResourceSubject("lb.resource.b.ingress.ns.my_ingress")).toMatchObject({ kind: "ingress", name: "my.ingress" });
  });

  it("refuses names that are not DNS labels instead of building a wildcard subject", () => {
    expect(reason(() => subjects.service("a", "shop", "*"))).toBe("InvalidName");
    expect(reason(() => subjects.service("A", "shop", "web"))).toBe("InvalidName");
    expect(reason(() => subjects.service("a", "sh.op", "web"))).toBe("InvalidName");
    expect(reason(() => parseResourceSubject("lb.resource.a.pod.x.y"))).toBe("InvalidSubject");
    expect(reason(() => parseResourceSubject("lb.resource.a.service.shop"))).toBe("InvalidSubject");
  });
});

describe("events", () => {
  it("round-trips a valid service event", () => {
    const ev = makeEvent({ type: "io.sharedlb.service.v1", source: "sharedlb/watcher/a", subject: "a/shop/web", data: service });
    const back = decodeEvent(encodeEvent(ev));
    expect(back).toEqual(ev);
    expect(ev.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it("gives every event its own id, in the order they were made, past the random pool's refills", () => {
    const make = () => makeEvent({ type: "io.sharedlb.service.v1", source: "sharedlb/watcher/a", subject: "a/shop/web", data: service }).id;
    const ids: string[] = [];
    const until = performance.now() + 30;
    // Enough new milliseconds to draw the 4 KiB pool more than once (16 bytes each).
    while (ids.length < 5_000 || performance.now() < until) ids.push(make());
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    // The random part differs between milliseconds (it is not a constant).
    expect(new Set(ids.map((id) => id.slice(10, 16))).size).toBeGreaterThan(1);
  });

  it("names the problem for malformed JSON, bad envelopes, unknown types and bad payloads", () => {
    expect(reason(() => decodeEvent("{nope"))).toBe("MalformedJson");
    expect(reason(() => decodeEvent(new Uint8Array([0xff, 0xfe])))).toBe("MalformedJson");
    expect(reason(() => decodeEvent(JSON.stringify({ specversion: "0.3" })))).toBe("InvalidEnvelope");
    const ev = makeEvent({ type: "io.sharedlb.service.v1", source: "sharedlb/x", subject: "a/shop/web", data: service });
    expect(reason(() => decodeEvent(JSON.stringify({ ...ev, type: "io.sharedlb.pod.v1" })))).toBe("UnknownEventType");
    const badPort = { ...ev, data: { ...service, ports: [{ ...service.ports[0], port: 70000 }] } };
    try {
      decodeEvent(JSON.stringify(badPort));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ContractViolation);
      expect((err as ContractViolation).reason).toBe("InvalidPayload");
      expect((err as ContractViolation).path).toBe("/data/ports/0/port");
    }
    const foreignAnnotation = { ...ev, data: { ...service, annotations: { "kubectl.kubernetes.io/x": "y" } } };
    expect(reason(() => decodeEvent(JSON.stringify(foreignAnnotation)))).toBe("InvalidPayload");
  });

  it("accepts the optional Service additions and checks their values", () => {
    const full = {
      ...service,
      loadBalancerSourceRanges: ["10.1.0.0/16", "2001:db8::/32"],
      sessionAffinity: "ClientIP" as const,
      ipFamilies: ["IPv6" as const, "IPv4" as const],
      ipFamilyPolicy: "RequireDualStack" as const,
      loadBalancerIP: "203.0.113.7",
    };
    expect(describeDataErrors("io.sharedlb.service.v1", full)).toEqual([]);
    expect(describeDataErrors("io.sharedlb.service.v1", { ...full, loadBalancerSourceRanges: ["10.1.0.0/33"] })[0]).toMatch(
      /^\/loadBalancerSourceRanges\/0 /,
    );
    expect(validateData("io.sharedlb.service.v1", { ...full, loadBalancerSourceRanges: ["10.1.0.0"] })).toBe(false);
    expect(validateData("io.sharedlb.service.v1", { ...full, loadBalancerSourceRanges: ["not/a-cidr"] })).toBe(false);
    expect(validateData("io.sharedlb.service.v1", { ...full, sessionAffinity: "Cookie" })).toBe(false);
    expect(validateData("io.sharedlb.service.v1", { ...full, ipFamilies: ["IPv4", "IPv4"] })).toBe(false);
    expect(validateData("io.sharedlb.service.v1", { ...full, loadBalancerIP: "" })).toBe(false);
  });

  it("accepts one address per family in an allocation's ips", () => {
    const alloc = {
      cluster: "a", namespace: "shop", name: "web", uid: "u", state: "Allocated", pool: "public", ip: "203.0.113.10",
      ips: ["203.0.113.10", "2001:db8::10"], ports: [], reason: "", message: "", resourceSequence: 7,
    };
    expect(describeDataErrors("io.sharedlb.allocation.v1", alloc)).toEqual([]);
    expect(validateData("io.sharedlb.allocation.v1", { ...alloc, ips: ["nope"] })).toBe(false);
  });

  it("rejects a payload that names another cluster's object than its subject", () => {
    const ev = makeEvent({ type: "io.sharedlb.service.v1", source: "sharedlb/x", subject: "b/shop/web", data: { ...service, cluster: "b" } });
    expect(reason(() => decodeResourceMessage("lb.resource.a.service.shop.web", encodeEvent(ev)))).toBe("SubjectMismatch");
    const ok = decodeResourceMessage("lb.resource.b.service.shop.web", encodeEvent(ev));
    expect(ok.subject).toEqual({ cluster: "b", kind: "service", namespace: "shop", name: "web" });
    const node = makeEvent({
      type: "io.sharedlb.node.v1",
      source: "sharedlb/x",
      subject: "b/n",
      data: { cluster: "b", name: "n1", addresses: { internal: "10.0.0.1", external: "" }, ready: true, excluded: false },
    });
    expect(reason(() => decodeResourceMessage("lb.resource.b.service.shop.web", encodeEvent(node)))).toBe("SubjectMismatch");
  });

  it("checks allocation events against their subject", () => {
    const alloc = makeEvent({
      type: "io.sharedlb.allocation.v1",
      source: "sharedlb/allocator/r1",
      subject: "a/shop/web",
      data: {
        cluster: "a", namespace: "shop", name: "web", uid: "u", state: "Allocated", pool: "public", ip: "203.0.113.10",
        ports: [{ name: "https", protocol: "TCP", port: 443, externalPort: 443, nodePort: 31443 }],
        reason: "", message: "", resourceSequence: 7,
      },
    });
    expect(decodeAllocationMessage("lb.allocation.a.shop.web", encodeEvent(alloc)).data.ip).toBe("203.0.113.10");
    expect(reason(() => decodeAllocationMessage("lb.allocation.a.shop.other", encodeEvent(alloc)))).toBe("SubjectMismatch");
  });
});

describe("port annotations", () => {
  it("parses service=external mappings with optional protocol", () => {
    expect(parsePortMappings("8443=443, 5353/UDP=53")).toEqual([
      { servicePort: 8443, externalPort: 443 },
      { servicePort: 5353, protocol: "UDP", externalPort: 53 },
    ]);
    expect(parsePortMappings("")).toEqual([]);
  });

  it("rejects malformed items, naming them", () => {
    expect(() => parsePortMappings("x=y")).toThrow(/"x=y"/);
    expect(() => parsePortMappings("80=0")).toThrow(PortMappingSyntaxError);
    expect(() => parsePortMappings("80=81,80=82")).toThrow(/mapped twice/);
  });

  it("formats allocated ports sorted, in the same form", () => {
    expect(
      formatAllocatedPorts([
        { port: 53, protocol: "UDP", externalPort: 10053 },
        { port: 443, protocol: "TCP", externalPort: 443 },
        { port: 53, protocol: "TCP", externalPort: 53 },
      ]),
    ).toBe("53/TCP=53,53/UDP=10053,443/TCP=443");
  });
});
