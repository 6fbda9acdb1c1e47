import { describe, expect, it } from "vitest";
import type { ServiceResource } from "@sharedlb/contracts";
import { familyOwner, isFamilyOwner, mergeStack, serviceOwner } from "./dual-stack.js";
import { PoolConfigError, resolvePolicy } from "./pools.js";
import { followPorts, planStack, requestedFamilies } from "./request.js";
import { type SlotRecord, toAllocation } from "./slot-record.js";

const file = {
  pools: [
    { name: "v4", addresses: ["203.0.113.10-203.0.113.11"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] },
    { name: "v6", addresses: ["2001:db8::10"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] },
    { name: "v6b", addresses: ["2001:db8:1::/127"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] },
    { name: "mixed", addresses: ["203.0.113.20", "2001:db8:2::1"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] },
  ],
  defaultPool: "v4",
  releaseDelaySeconds: 30,
  purgeAfterSeconds: 3600,
};
const policy = resolvePolicy({ ...file, familyPools: { IPv6: "v6" } });
const v4only = resolvePolicy(file);

function svc(over: Partial<ServiceResource> = {}): ServiceResource {
  return {
    cluster: "a", namespace: "shop", name: "web", uid: "u",
    ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443 }],
    externalTrafficPolicy: "Cluster", healthCheckNodePort: 0, loadBalancerClass: "sharedlb.io/envoy", annotations: {},
    ipFamilies: ["IPv4", "IPv6"], ipFamilyPolicy: "RequireDualStack",
    ...over,
  };
}

describe("pool families", () => {
  it("knows each pool's families and validates familyPools", () => {
    expect(policy.pools.get("v6")?.families).toEqual(["IPv6"]);
    expect(policy.familyPools).toEqual({ IPv6: "v6" });
    expect(() => resolvePolicy({ ...file, familyPools: { IPv6: "v4" } })).toThrow(PoolConfigError);
    expect(() => resolvePolicy({ ...file, familyPools: { IPv6: "v4" } })).toThrow(/familyPools\.IPv6: pool "v4" must have IPv6 addresses only/);
    expect(() => resolvePolicy({ ...file, familyPools: { IPv6: "mixed" } })).toThrow(/pool "mixed" must have IPv6 addresses only/);
    expect(policy.pools.get("mixed")?.families).toEqual(["IPv4", "IPv6"]);
    expect(() => resolvePolicy({ ...file, familyPools: { IPv4: "nope" } })).toThrow(/familyPools\.IPv4: no pool is named "nope"/);
  });
});

describe("planning a dual-stack Service", () => {
  it("asks for two families only with PreferDualStack or RequireDualStack", () => {
    expect(requestedFamilies(svc({ ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv6"] }))).toEqual(["IPv6"]);
    expect(requestedFamilies(svc({ ipFamilyPolicy: "PreferDualStack", ipFamilies: ["IPv6"] }))).toEqual(["IPv6"]);
    expect(requestedFamilies(svc({ ipFamilyPolicy: "PreferDualStack", ipFamilies: ["IPv6", "IPv4"] }))).toEqual(["IPv6", "IPv4"]);
    expect(requestedFamilies(svc({ ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4"] }))).toEqual(["IPv4", "IPv6"]);
    expect(requestedFamilies({})).toEqual(["IPv4"]);
  });

  it("takes one pool per family: from sharedlb.io/pool, else the default and familyPools", () => {
    const plan = planStack(svc(), policy);
    expect(plan.kind).toBe("dual");
    if (plan.kind !== "dual") return;
    expect([plan.primary.request.pool, plan.primary.request.ips]).toEqual(["v4", ["203.0.113.10", "203.0.113.11"]]);
    expect([plan.secondary.family, plan.secondary.request.pool]).toEqual(["IPv6", "v6"]);
    const named = planStack(svc({ annotations: { "sharedlb.io/pool": "v6b, v4" }, ipFamilies: ["IPv6", "IPv4"] }), policy);
    expect(named.kind === "dual" && [named.primary.request.pool, named.secondary.request.pool]).toEqual(["v6b", "v4"]);
  });

  it("pins one address per family with sharedlb.io/ip, and spec.loadBalancerIP its own family", () => {
    const plan = planStack(svc({ annotations: { "sharedlb.io/ip": "2001:db8::10" }, loadBalancerIP: "203.0.113.11" }), policy);
    expect(plan.kind === "dual" && [plan.primary.request.ips, plan.secondary.request.ips]).toEqual([["203.0.113.11"], ["2001:db8::10"]]);
    const two = planStack(svc({ annotations: { "sharedlb.io/ip": "203.0.113.10,203.0.113.11" } }), policy);
    expect(two.kind === "single" && two.plan.kind === "reject" && two.plan.rejection.reason).toBe("InvalidAnnotation");
    const outside = planStack(svc({ annotations: { "sharedlb.io/ip": "2001:db8::99" } }), policy);
    expect(outside.kind === "single" && outside.plan.kind === "reject" && outside.plan.rejection.reason).toBe("IPNotInPool");
  });

  it("falls back to one family for PreferDualStack with a note, and fails RequireDualStack, when a family has no pool", () => {
    const prefer = planStack(svc({ ipFamilyPolicy: "PreferDualStack" }), v4only);
    expect(prefer.kind === "single" && prefer.plan.kind).toBe("claim");
    expect(prefer.kind === "single" && prefer.note?.message).toMatch(/^PreferDualStack: no IPv6 pool serves this Service.*served on IPv4 only$/);
    const require = planStack(svc(), v4only);
    expect(require.kind === "single" && require.plan.kind === "reject" && require.plan.rejection.reason).toBe("UnknownPool");
    const bad = planStack(svc({ annotations: { "sharedlb.io/pool": "v4,v6,v6b" } }), policy);
    expect(bad.kind === "single" && bad.plan.kind === "reject" && bad.plan.rejection.reason).toBe("InvalidAnnotation");
    // A pool of both families serves single-stack Services only: a claim searches its whole pool.
    const mixed = planStack(svc({ annotations: { "sharedlb.io/pool": "mixed" } }), policy);
    expect(mixed.kind === "single" && mixed.plan.kind === "reject" && mixed.plan.rejection.message).toContain('pool "mixed" has IPv4 and IPv6 addresses');
  });

  it("keeps SingleStack exactly as planClaim plans it (a two-name pool annotation is not a pool name)", () => {
    const single = planStack(svc({ ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"], annotations: { "sharedlb.io/pool": "v4,v6" } }), policy);
    expect(single.kind === "single" && single.plan.kind === "reject" && single.plan.rejection.reason).toBe("UnknownPool");
  });

  it("puts the second family on the first family's external ports, without remapping", () => {
    const plan = planStack(svc({ annotations: { "sharedlb.io/port-policy": "any" } }), policy);
    if (plan.kind !== "dual") throw new Error("not dual");
    const req = followPorts(plan.secondary.request, [{ protocol: "TCP", port: 443, externalPort: 10443 }]);
    expect(req.ports).toEqual([{ name: "https", protocol: "TCP", port: 443, nodePort: 31443, want: 10443, remap: false }]);
  });
});

describe("the merged allocation", () => {
  const record = (over: Partial<SlotRecord>): SlotRecord => ({
    owner: "a/shop/web", cluster: "a", namespace: "shop", name: "web", uid: "u", seq: 5, resourceSequence: 5, version: 3,
    state: "Allocated", pool: "v4", ip: "203.0.113.10", reason: "", message: "", resource: JSON.stringify(svc()), allocSeq: 0,
    releasedAt: 0, incarnationSeq: 1, claims: "TCP/443=443", ...over,
  });
  // Applied under secondSeq: twice the first record's sequence, plus one (the first is Allocated).
  const second = (over: Partial<SlotRecord>) => record({ owner: familyOwner("a/shop/web", "IPv6"), pool: "v6", ip: "2001:db8::10", version: 2, seq: 11, ...over });

  it("names the family record apart from the Service's own", () => {
    expect(familyOwner("a/shop/web", "IPv6")).toBe("a/shop/web#IPv6");
    expect([isFamilyOwner("a/shop/web#IPv6"), isFamilyOwner("a/shop/web")]).toEqual([true, false]);
    expect(serviceOwner("a/shop/web#IPv6")).toBe("a/shop/web");
  });

  it("carries both addresses when both are Allocated for the same event, with the summed version", () => {
    const a = mergeStack(record({}), second({}));
    expect([a.ip, a.ips, a.allocationVersion]).toEqual(["203.0.113.10", ["203.0.113.10", "2001:db8::10"], 5]);
  });

  it("is Pending for RequireDualStack and one address for PreferDualStack while the second family waits", () => {
    const waiting = second({ state: "Pending", ip: "", claims: "", reason: "PoolExhausted", message: "pool v6 has no room" });
    const require = mergeStack(record({}), waiting);
    expect([require.state, require.reason, require.ip, require.ports]).toEqual(["Pending", "PoolExhausted", "", []]);
    const prefer = mergeStack(record({ resource: JSON.stringify(svc({ ipFamilyPolicy: "PreferDualStack" })) }), waiting);
    expect([prefer.state, prefer.ip, prefer.ips]).toEqual(["Allocated", "203.0.113.10", undefined]);
    expect(prefer.message).toContain("IPv6 address not yet served");
  });

  it("ignores a second record of another event or of a Service that is single-stack now", () => {
    expect(mergeStack(record({ seq: 6 }), second({})).ips).toBeUndefined();
    const single = record({ resource: JSON.stringify(svc({ ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"] })) });
    expect(mergeStack(single, second({})).ips).toBeUndefined();
    expect(mergeStack(record({}), null)).toEqual(toAllocation(record({})));
  });
});
