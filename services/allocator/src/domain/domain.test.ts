import { describe, expect, it } from "vitest";
import type { ServiceResource } from "@sharedlb/contracts";
import { canonicalIp, expandAddresses, parsePortRange } from "./addresses.js";
import { matchesSelector, PoolConfigError, resolvePolicy } from "./pools.js";
import { planClaim } from "./request.js";

const policy = resolvePolicy({
  pools: [
    { name: "public", addresses: ["203.0.113.10-203.0.113.12", "198.51.100.0/30"], ports: "1024-65535", clusters: ["*"], namespaces: ["*"] },
    { name: "prod", addresses: ["192.0.2.1"], ports: "1-65535", clusters: ["prod-*"], namespaces: ["*"] },
  ],
  defaultPool: "public",
  releaseDelaySeconds: 30,
  purgeAfterSeconds: 3600,
  quotas: { default: { services: 10, ports: 40 }, clusters: { a: { services: 2, ports: 3 } } },
});

function svc(over: Partial<ServiceResource> = {}): ServiceResource {
  return {
    cluster: "a", namespace: "shop", name: "web", uid: "u",
    ports: [{ name: "https", protocol: "TCP", port: 8443, nodePort: 31443 }],
    externalTrafficPolicy: "Cluster", healthCheckNodePort: 0, loadBalancerClass: "sharedlb.io/envoy", annotations: {},
    ...over,
  };
}

describe("pool addresses", () => {
  it("expands ranges and CIDRs, sorted and de-duplicated", () => {
    expect(expandAddresses(["203.0.113.12", "203.0.113.10-203.0.113.12", "198.51.100.0/31"])).toEqual([
      "198.51.100.0", "198.51.100.1", "203.0.113.10", "203.0.113.11", "203.0.113.12",
    ]);
    expect(expandAddresses(["2001:db8::/126"])).toEqual(["2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8::3"]);
    expect(canonicalIp("2001:DB8:0:0::1")).toBe("2001:db8::1");
  });

  it("rejects what it cannot understand, quoting the entry", () => {
    expect(() => expandAddresses(["203.0.113.300"])).toThrow(/203\.0\.113\.300/);
    expect(() => expandAddresses(["10.0.0.5-10.0.0.1"])).toThrow(/ends before it starts/);
    expect(() => expandAddresses(["10.0.0.0/8"])).toThrow(/more than 65536/);
    expect(() => parsePortRange("80-70")).toThrow(/"80-70"/);
    expect(parsePortRange("1024-65535")).toEqual({ lo: 1024, hi: 65535 });
  });

  it("names the field of a semantically bad pool file", () => {
    const base = { releaseDelaySeconds: 1, purgeAfterSeconds: 1 };
    const pool = (name: string, addresses: string[]) => ({ name, addresses, ports: "1-65535", clusters: ["*"], namespaces: ["*"] });
    expect(() => resolvePolicy({ ...base, pools: [pool("a", ["10.0.0.1"]), pool("b", ["10.0.0.1"])] })).toThrow(/pools\[1\]\.addresses: 10\.0\.0\.1 is also in pool "a"/);
    expect(() => resolvePolicy({ ...base, pools: [pool("a", ["x"])] })).toThrow(PoolConfigError);
    expect(() => resolvePolicy({ ...base, pools: [pool("a", ["10.0.0.1"])], defaultPool: "b" })).toThrow(/defaultPool/);
  });

  it("matches cluster selectors with * globs", () => {
    expect(matchesSelector(["prod-*"], "prod-eu")).toBe(true);
    expect(matchesSelector(["prod-*"], "staging")).toBe(false);
    expect(matchesSelector(["a", "b"], "b")).toBe(true);
  });
});

describe("planClaim", () => {
  it("asks for the Service's own ports on the default pool, in pool order", () => {
    const plan = planClaim(svc(), policy);
    expect(plan).toEqual({
      kind: "claim",
      request: {
        pool: "public",
        ips: ["198.51.100.0", "198.51.100.1", "198.51.100.2", "198.51.100.3", "203.0.113.10", "203.0.113.11", "203.0.113.12"],
        pinned: false,
        ports: [{ name: "https", protocol: "TCP", port: 8443, nodePort: 31443, want: 8443, remap: false }],
        range: { lo: 1024, hi: 65535 },
        quota: { services: 2, ports: 3 },
      },
    });
  });

  it("applies sharedlb.io/ports, port-policy and a pinned IP", () => {
    const plan = planClaim(svc({ annotations: { "sharedlb.io/ports": "8443=443", "sharedlb.io/port-policy": "any", "sharedlb.io/ip": "203.0.113.11" } }), policy);
    expect(plan.kind).toBe("claim");
    if (plan.kind !== "claim") return;
    expect(plan.request.ips).toEqual(["203.0.113.11"]);
    expect(plan.request.pinned).toBe(true);
    expect(plan.request.ports[0]).toMatchObject({ want: 443, remap: true });
  });

  it("pins spec.loadBalancerIP like sharedlb.io/ip, and accepts both when they name one address", () => {
    for (const over of [{ loadBalancerIP: "203.0.113.12" }, { loadBalancerIP: "203.0.113.12", annotations: { "sharedlb.io/ip": " 203.0.113.12" } }]) {
      const plan = planClaim(svc(over), policy);
      expect(plan.kind === "claim" && plan.request).toMatchObject({ ips: ["203.0.113.12"], pinned: true });
    }
  });

  it("rejects with a stable reason and a message naming the problem", () => {
    const cases: [Partial<ServiceResource>, string, RegExp][] = [
      [{ annotations: { "sharedlb.io/ports": "x=y" } }, "InvalidAnnotation", /"x=y"/],
      [{ annotations: { "sharedlb.io/ports": "9999=443" } }, "InvalidAnnotation", /no port 9999/],
      [{ annotations: { "sharedlb.io/ip": "10.9.9.9" } }, "IPNotInPool", /10\.9\.9\.9 is not in pool "public"/],
      [{ annotations: { "sharedlb.io/ip": "not-an-ip" } }, "InvalidAnnotation", /not an IP/],
      [{ loadBalancerIP: "10.9.9.9" }, "IPNotInPool", /^spec\.loadBalancerIP: 10\.9\.9\.9 is not in pool "public"$/],
      [{ loadBalancerIP: "nope" }, "InvalidAnnotation", /^spec\.loadBalancerIP: "nope" is not an IP address$/],
      [
        { loadBalancerIP: "203.0.113.10", annotations: { "sharedlb.io/ip": "203.0.113.11" } },
        "InvalidAnnotation",
        /^sharedlb\.io\/ip: 203\.0\.113\.11 and spec\.loadBalancerIP: 203\.0\.113\.10 name different addresses; set one of them$/,
      ],
      [{ annotations: { "sharedlb.io/pool": "gold" } }, "UnknownPool", /"gold"/],
      [{ annotations: { "sharedlb.io/pool": "prod" } }, "UnknownPool", /does not serve cluster "a"/],
      [{ annotations: { "sharedlb.io/port-policy": "maybe" } }, "InvalidAnnotation", /"maybe"/],
      [{ annotations: { "sharedlb.io/proxy-protocol": "v3" } }, "InvalidAnnotation", /"v3"/],
      [{ annotations: { "sharedlb.io/colour": "blue" } }, "InvalidAnnotation", /sharedlb\.io\/colour/],
      [{ ports: [{ name: "s", protocol: "SCTP", port: 5000, nodePort: 30000 }] }, "UnsupportedProtocol", /SCTP/],
      [{ ports: [{ name: "h", protocol: "TCP", port: 80, nodePort: 30000 }] }, "PortUnavailable", /outside pool "public" range 1024-65535/],
      [{ ports: [] }, "InvalidAnnotation", /no ports/],
      [{ ports: [{ name: "a", protocol: "TCP", port: 2000, nodePort: 1 }, { name: "b", protocol: "TCP", port: 3000, nodePort: 2 }], annotations: { "sharedlb.io/ports": "2000=4000,3000=4000" } }, "InvalidAnnotation", /both want external TCP\/4000/],
    ];
    for (const [over, reason, message] of cases) {
      const plan = planClaim(svc(over), policy);
      expect(plan.kind, JSON.stringify(over)).toBe("reject");
      if (plan.kind === "reject") {
        expect(plan.rejection.reason, JSON.stringify(over)).toBe(reason);
        expect(plan.rejection.message).toMatch(message);
      }
    }
  });

  it("lets a port outside the range through when remapping is allowed", () => {
    const plan = planClaim(svc({ ports: [{ name: "h", protocol: "TCP", port: 80, nodePort: 30000 }], annotations: { "sharedlb.io/port-policy": "any" } }), policy);
    expect(plan.kind).toBe("claim");
  });

  it("is deterministic", () => {
    expect(planClaim(svc(), policy)).toEqual(planClaim(svc(), policy));
  });
});
