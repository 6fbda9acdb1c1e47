import { describe, expect, it } from "vitest";
import type { GatewayListener, GatewayResource, L7Allocation, RouteResource } from "@sharedlb/contracts";
import { hostnamesConflict } from "./hostnames.js";
import { l7ImportOf } from "./l7-import.js";
import { type HeldL7, type L7Holder, type L7Occupancy, placeL7 } from "./l7-placement.js";
import { type L7ClaimRequest, planL7 } from "./l7-request.js";
import { resolvePolicy } from "./pools.js";

const policy = resolvePolicy({
  pools: [
    { name: "public", addresses: ["10.0.0.1-10.0.0.3"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] },
    { name: "high", addresses: ["10.0.1.1"], ports: "1024-65535", clusters: ["*"], namespaces: ["*"] },
  ],
  defaultPool: "public",
  releaseDelaySeconds: 30,
  purgeAfterSeconds: 3600,
  quotas: { clusters: { small: { services: 5, ports: 2 } } },
});

const listener = (name: string, protocol: GatewayListener["protocol"], port: number, hostname?: string): GatewayListener => ({
  name,
  protocol,
  port,
  ...(hostname ? { hostname } : {}),
  allowedRoutes: { allNamespaces: false, namespaces: ["ns"], kinds: ["HTTPRoute"] },
});

function gateway(cluster: string, listeners: GatewayListener[], annotations: Record<string, string> = {}): GatewayResource {
  return { cluster, namespace: "ns", name: "gw", uid: "u", generation: 1, gatewayClassName: "sharedlb", listeners, annotations, refusedRefs: [] };
}

function ingress(over: Partial<RouteResource>): RouteResource {
  return { cluster: "a", namespace: "ns", name: "ing", uid: "u", generation: 1, sourceKind: "Ingress", parentRefs: [], hostnames: [], rules: [], refusedRefs: [], annotations: {}, ...over };
}

function request(resource: GatewayResource | RouteResource): L7ClaimRequest {
  const plan = planL7(resource, policy);
  if (plan.kind !== "claim") throw new Error(plan.rejection.message);
  return plan.request;
}

/** An occupancy from claims `ip|port|cluster|hostname` (prefix `~` on the cluster: quarantined) and L4 slots `ip|port`. */
function occupancy(claims: string[] = [], l4: string[] = [], quotaUsed = { services: 0, ports: 0 }): L7Occupancy {
  const byslot = new Map<string, L7Holder[]>();
  const slots = new Map<string, "L4" | "http" | "tls">();
  const load = new Map<string, number>();
  for (const c of claims) {
    const [ip = "", port = "", cluster = "", hostname = ""] = c.split("|");
    const slot = `${ip}|${port}`;
    if (!byslot.has(slot)) load.set(ip, (load.get(ip) ?? 0) + 1);
    byslot.set(slot, [...(byslot.get(slot) ?? []), { owner: `${cluster.replace("~", "")}/ns/other/gateway`, cluster: cluster.replace("~", ""), hostname, quarantined: cluster.startsWith("~") }]);
    slots.set(slot, port === "443" ? "tls" : "http");
  }
  for (const s of l4) {
    slots.set(s, "L4");
    const ip = s.split("|")[0] ?? "";
    load.set(ip, (load.get(ip) ?? 0) + 1);
  }
  return { claims: byslot, slots, load, quotaUsed };
}

const web = (cluster: string, hostname?: string) => gateway(cluster, [listener("http", "HTTP", 80, hostname), listener("https", "HTTPS", 443, hostname)]);

describe("hostname conflicts", () => {
  it.each([
    ["a.example.com", "a.example.com", true],
    ["a.example.com", "b.example.com", false],
    ["*.example.com", "a.example.com", true],
    ["*.example.com", "a.b.example.com", true],
    ["*.example.com", "example.com", false],
    ["*.example.com", "*.example.com", true],
    ["*.example.com", "*.a.example.com", true],
    ["*.a.example.com", "*.b.example.com", false],
    ["*.example.com", "aexample.com", false],
  ])("%s vs %s: %s, in both orders", (x, y, want) => {
    expect(hostnamesConflict(x, y)).toBe(want);
    expect(hostnamesConflict(y, x)).toBe(want);
  });
});

describe("planL7", () => {
  it("gives a Gateway's HTTP/HTTPS/TLS listeners slots and fails TCP/UDP listeners with UnsupportedProtocol", () => {
    const req = request(gateway("a", [listener("web", "HTTP", 80, "a.example.com"), listener("raw", "TCP", 9000), listener("tls", "TLS", 8443)]));
    expect(req.listeners.map((l) => [l.name, l.kind, l.exclusive, l.failure?.reason])).toEqual([
      ["web", "http", false, undefined],
      ["raw", "tls", true, "UnsupportedProtocol"],
      ["tls", "tls", true, undefined],
    ]);
  });

  it("fails a listener whose port is outside the pool's range, or that mixes HTTP and HTTPS on one port", () => {
    const req = request(gateway("a", [listener("low", "HTTP", 80, "a.example.com"), listener("x", "HTTP", 8080), listener("y", "HTTPS", 8080)], { "sharedlb.io/pool": "high" }));
    expect(req.listeners.map((l) => l.failure?.reason)).toEqual(["PortUnavailable", undefined, "PortUnavailable"]);
    expect(req.listeners[2]?.failure?.message).toMatch(/listener y: port 8080 is also listener x's/);
  });

  it("rejects unknown annotations, unknown pools and IPs outside the pool, naming them", () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ "sharedlb.io/ports": "80=8080" }, "InvalidAnnotation", /sharedlb\.io\/ports/],
      [{ "sharedlb.io/pool": "nope" }, "UnknownPool", /"nope"/],
      [{ "sharedlb.io/ip": "192.0.2.1" }, "IPNotInPool", /192\.0\.2\.1/],
      [{ "sharedlb.io/ip": "not-an-ip" }, "InvalidAnnotation", /not-an-ip/],
    ];
    for (const [annotations, reason, message] of cases) {
      const plan = planL7(web("a", "a.example.com"), policy);
      const bad = planL7({ ...web("a", "a.example.com"), annotations }, policy);
      expect(plan.kind).toBe("claim");
      expect(bad).toMatchObject({ kind: "reject", rejection: { reason } });
      if (bad.kind === "reject") expect(bad.rejection.message).toMatch(message);
    }
  });

  it("gives an Ingress http on 80 with every host and https on 443 with its TLS hosts", () => {
    const req = request(
      ingress({
        rules: [
          { hostnames: ["a.example.com"], matches: [], filters: [], backends: [] },
          { hostnames: ["b.example.com"], matches: [], filters: [], backends: [] },
        ],
        tls: [{ hosts: ["a.example.com"], secret: { namespace: "ns", name: "tls" } }],
      }),
    );
    expect(req.listeners.map((l) => [l.name, l.port, l.hostnames, l.exclusive])).toEqual([
      ["http", 80, ["a.example.com", "b.example.com"], false],
      ["https", 443, ["a.example.com"], false],
    ]);
  });

  it("makes an Ingress with a host-less rule or a default backend exclusive", () => {
    const backend = { namespace: "ns", service: "web", port: 80, weight: 1, nodePort: 30080 };
    expect(request(ingress({ rules: [{ matches: [], filters: [], backends: [] }] })).listeners.map((l) => l.exclusive)).toEqual([true]);
    expect(request(ingress({ hostnames: ["a.example.com"], rules: [{ hostnames: ["a.example.com"], matches: [], filters: [], backends: [] }], defaultBackend: backend })).listeners[0]).toMatchObject({ exclusive: true, hostnames: [] });
  });
});

describe("placeL7", () => {
  const place = (resource: GatewayResource | RouteResource, occ: L7Occupancy, held?: HeldL7) => placeL7(request(resource), resource.cluster, held, occ);

  it("packs a second tenant onto the IP where :80/:443 are already shared, with its own hostnames", () => {
    const occ = occupancy(["10.0.0.2|80|a|a.example.com", "10.0.0.2|443|a|a.example.com"]);
    const p = place(web("b", "b.example.com"), occ);
    expect(p.state).toBe("Allocated");
    expect(p.ip).toBe("10.0.0.2");
    expect(p.claims.map((c) => `${c.ip}:${c.port} ${c.hostname}`)).toEqual(["10.0.0.2:80 b.example.com", "10.0.0.2:443 b.example.com"]);
    expect(p.listeners.every((l) => l.shared && l.claimedHostnames.join() === "b.example.com")).toBe(true);
  });

  it("puts the tenant where it already has L7 slots, even when another IP is emptier", () => {
    const occ = occupancy(["10.0.0.3|80|b|old.example.com"], ["10.0.0.3|9000", "10.0.0.3|9001"]);
    expect(place(web("b", "new.example.com"), occ).ip).toBe("10.0.0.3");
  });

  it("refuses a hostname another tenant holds (exactly, under its wildcard, or in quarantine) as Pending HostnameConflict on the tenant's IP", () => {
    for (const [held, wanted] of [
      ["a.example.com", "a.example.com"],
      ["*.example.com", "a.example.com"],
      ["a.example.com", "*.example.com"],
    ] as const) {
      for (const cluster of ["a", "~a"]) {
        const occ = occupancy([`10.0.0.1|80|${cluster}|${held}`, `10.0.0.1|80|b|mine.example.com`]);
        const p = place(gateway("b", [listener("http", "HTTP", 80, wanted)]), occ);
        expect(p.state).toBe("Pending");
        expect(p.reason).toBe("HostnameConflict");
        expect(p.claims).toEqual([]);
        expect(p.waits).toBe(true);
        expect(p.listeners[0]?.refusedHostnames).toEqual([{ hostname: wanted, reason: "HostnameConflict", message: expect.stringContaining("another tenant cluster") }]);
        expect(p.message).not.toMatch(/\/ns\/|\bother\b/);
      }
    }
  });

  it("lets objects of one tenant cluster claim the same hostname", () => {
    const occ = occupancy(["10.0.0.1|80|a|a.example.com"]);
    expect(place(gateway("a", [listener("http", "HTTP", 80, "a.example.com")]), occ)).toMatchObject({ state: "Allocated", ip: "10.0.0.1", waits: false });
  });

  it("gives an Ingress the hosts it can have and lists the others as refused", () => {
    const occ = occupancy(["10.0.0.1|80|a|taken.example.com"]);
    const ing = ingress({
      cluster: "b",
      rules: [
        { hostnames: ["free.example.com"], matches: [], filters: [], backends: [] },
        { hostnames: ["taken.example.com"], matches: [], filters: [], backends: [] },
      ],
    });
    const p = place(ing, occ, { pool: "public", ip: "10.0.0.1", services: 1, ports: 1 });
    expect(p.state).toBe("Allocated");
    expect(p.listeners[0]).toMatchObject({ state: "Allocated", claimedHostnames: ["free.example.com"], refusedHostnames: [{ hostname: "taken.example.com", reason: "HostnameConflict" }] });
    expect(p.waits).toBe(true);
  });

  it("gives a listener without a hostname an (IP, port) no other tenant uses, and keeps other tenants off it", () => {
    const occ = occupancy(["10.0.0.1|80|a|a.example.com", "10.0.0.2|80|c|c.example.com"]);
    const p = place(gateway("b", [listener("http", "HTTP", 80)]), occ);
    expect(p).toMatchObject({ state: "Allocated", ip: "10.0.0.3" });
    expect(p.listeners[0]).toMatchObject({ shared: false, claimedHostnames: [] });
    expect(p.claims).toEqual([{ ip: "10.0.0.3", port: 80, hostname: "", kind: "http" }]);

    const after = occupancy(["10.0.0.1|80|a|a.example.com", "10.0.0.2|80|c|c.example.com", "10.0.0.3|80|b|"]);
    expect(place(gateway("d", [listener("http", "HTTP", 80, "d.example.com")]), after).ip).not.toBe("10.0.0.3");
    expect(place(gateway("b", [listener("http", "HTTP", 80, "b.example.com")]), after).ip).toBe("10.0.0.3");
    const none = place(gateway("d", [listener("http", "HTTP", 80)]), after);
    expect(none).toMatchObject({ state: "Pending", reason: "PortUnavailable", claims: [], waits: true });
  });

  it("never shares a Service's slot or an L7 slot of the other protocol family", () => {
    const occ = occupancy(["10.0.0.2|8443|a|"], ["10.0.0.1|80", "10.0.0.2|80", "10.0.0.3|80"]);
    expect(place(web("b", "b.example.com"), occ)).toMatchObject({ state: "Pending", reason: "PortUnavailable" });
    const mixed = occupancy(["10.0.0.1|8080|a|a.example.com"]);
    expect(place(gateway("b", [listener("tls", "HTTPS", 8080, "b.example.com")]), mixed).ip).not.toBe("10.0.0.1");
  });

  it("puts every listener of a Gateway on one IP, or none", () => {
    const occ = occupancy([], ["10.0.0.1|443", "10.0.0.2|80"]);
    expect(place(web("b", "b.example.com"), occ).ip).toBe("10.0.0.3");
    const pinned = { ...web("b", "b.example.com"), annotations: { "sharedlb.io/ip": "10.0.0.1" } };
    expect(place(pinned, occ)).toMatchObject({ state: "Pending", reason: "PortUnavailable", message: expect.stringContaining("IP 10.0.0.1") });
  });

  it("stays where it is while that is valid", () => {
    const occ = occupancy(["10.0.0.3|80|b|b.example.com", "10.0.0.1|80|a|a.example.com", "10.0.0.1|80|a|x.example.com"]);
    const p = place(gateway("b", [listener("http", "HTTP", 80, "b.example.com")]), occ, { pool: "public", ip: "10.0.0.3", services: 1, ports: 1 });
    expect(p.ip).toBe("10.0.0.3");
  });

  it("counts each hostname as a port and each Gateway as a service towards the quota", () => {
    const p = place(gateway("small", [listener("a", "HTTP", 80, "a.example.com"), listener("b", "HTTP", 80, "b.example.com"), listener("c", "HTTP", 80, "c.example.com")]), occupancy());
    expect(p).toMatchObject({ state: "Pending", reason: "QuotaExceeded", claims: [], waits: true });
    const two = place(gateway("small", [listener("a", "HTTP", 80, "a.example.com"), listener("b", "HTTP", 80, "b.example.com")]), occupancy());
    expect(two).toMatchObject({ state: "Allocated", cost: { services: 1, ports: 2 } });
  });

  it("is Failed when every listener is, and claims nothing", () => {
    const p = place(gateway("a", [listener("raw", "UDP", 53)]), occupancy());
    expect(p).toMatchObject({ state: "Failed", reason: "UnsupportedProtocol", claims: [], waits: false });
  });
});

describe("l7ImportOf (re-import after a Redis data loss)", () => {
  const allocation = (cluster: string, hostname: string): L7Allocation => ({
    cluster,
    namespace: "ns",
    name: "gw",
    kind: "gateway",
    uid: "u",
    generation: 3,
    state: "Allocated",
    listeners: [{ name: "http", protocol: "HTTP", state: "Allocated", pool: "public", ip: "10.0.0.1", port: 80, shared: true, claimedHostnames: [hostname], refusedHostnames: [], reason: "", message: "" }],
    reason: "",
    message: "",
    resourceSequence: 9,
    allocationVersion: 4,
  });

  it("takes back the claims an allocation names, and never a name another tenant was given first", () => {
    const held = new Map<string, { cluster: string; hostname: string }[]>();
    const first = l7ImportOf(allocation("a", "*.example.com"), 17, "", held);
    expect(first).toMatchObject({ claims: [{ ip: "10.0.0.1", port: 80, hostname: "*.example.com", kind: "http" }], republish: false });
    expect(first.record).toMatchObject({ owner: "a/ns/gw/gateway", state: "Allocated", ip: "10.0.0.1", pool: "public", costPorts: 1, allocSeq: 17, version: 4, generation: 3 });
    const second = l7ImportOf(allocation("b", "shop.example.com"), 18, "", held);
    expect(second).toMatchObject({ claims: [], republish: true });
    expect(second.record).toMatchObject({ state: "Pending", reason: "PortUnavailable", waits: true, version: 5, claims: "" });
    expect(l7ImportOf(allocation("a", "other.example.com"), 19, "", held).claims).toHaveLength(1);
  });
});
