import { describe, expect, it } from "vitest";
import type { ServiceResource } from "@sharedlb/contracts";
import { type HeldAllocation, type Occupancy, place, slotName } from "./placement.js";
import { resolvePolicy } from "./pools.js";
import { type ClaimRequest, planClaim } from "./request.js";

const policy = resolvePolicy({
  pools: [
    { name: "public", addresses: ["10.0.0.1-10.0.0.3"], ports: "1-65535", clusters: ["*"], namespaces: ["*"] },
    { name: "tiny", addresses: ["10.0.1.1"], ports: "100-101", clusters: ["*"], namespaces: ["*"] },
  ],
  defaultPool: "public",
  releaseDelaySeconds: 30,
  purgeAfterSeconds: 3600,
  quotas: { clusters: { small: { services: 1, ports: 2 } } },
});

type Port = ServiceResource["ports"][number];
const tcp = (port: number): Port => ({ name: `p${port}`, protocol: "TCP", port, nodePort: 30000 + port });
const udp = (port: number): Port => ({ name: `u${port}`, protocol: "UDP", port, nodePort: 31000 + port });

function request(ports: Port[], annotations: Record<string, string> = {}, cluster = "a"): ClaimRequest {
  const plan = planClaim(
    { cluster, namespace: "ns", name: "svc", uid: "u", ports, externalTrafficPolicy: "Cluster", healthCheckNodePort: 0, loadBalancerClass: "sharedlb.io/envoy", annotations },
    policy,
  );
  if (plan.kind !== "claim") throw new Error(plan.rejection.message);
  return plan.request;
}

/** An occupancy from `slot → owner`; loads follow from the slots. */
function occupancy(owners: Record<string, string> = {}, over: Partial<Occupancy> = {}): Occupancy {
  const load = new Map<string, number>();
  for (const slot of Object.keys(owners)) {
    const ip = slot.split("|")[0] as string;
    load.set(ip, (load.get(ip) ?? 0) + 1);
  }
  return { owners: new Map(Object.entries(owners)), load, tenantServices: new Map(), quotaUsed: { services: 0, ports: 0 }, ...over };
}

const ME = "a/ns/svc";

describe("place", () => {
  it("gives a Service its own port, on the first IP of an empty pool", () => {
    expect(place(request([tcp(443)]), ME, "a", undefined, occupancy())).toEqual({
      kind: "placed",
      ip: "10.0.0.1",
      claims: [{ protocol: "TCP", port: 443, externalPort: 443 }],
    });
  });

  it("keeps its own port on another IP rather than remapping, even with port-policy any", () => {
    const occ = occupancy({ [slotName("10.0.0.1", "TCP", 443)]: "b/x/y" });
    const got = place(request([tcp(443)], { "sharedlb.io/port-policy": "any" }), ME, "a", undefined, occ);
    expect(got).toMatchObject({ kind: "placed", ip: "10.0.0.2", claims: [{ externalPort: 443 }] });
  });

  it("remaps only with port-policy any, to the lowest free port of the range", () => {
    const taken = Object.fromEntries(["10.0.0.1", "10.0.0.2", "10.0.0.3"].map((ip) => [slotName(ip, "TCP", 443), "b/x/y"]));
    const same = place(request([tcp(443)]), ME, "a", undefined, occupancy(taken));
    expect(same).toEqual({
      kind: "waiting",
      reason: "PortUnavailable",
      message: "port 443/TCP is taken on any IP of pool public; allow remapping with sharedlb.io/port-policy: any",
    });
    const taken1 = { ...taken, [slotName("10.0.0.1", "TCP", 1)]: "b/x/z" };
    // 10.0.0.1 is the most loaded now: remapping goes to the least loaded, port 1.
    const any = place(request([tcp(443)], { "sharedlb.io/port-policy": "any" }), ME, "a", undefined, occupancy(taken1));
    expect(any).toEqual({ kind: "placed", ip: "10.0.0.2", claims: [{ protocol: "TCP", port: 443, externalPort: 1 }] });
  });

  it("packs onto an IP the tenant already uses before the least loaded one", () => {
    const occ = occupancy({ [slotName("10.0.0.2", "TCP", 80)]: "a/ns/other" }, { tenantServices: new Map([["10.0.0.2", 1]]) });
    expect(place(request([tcp(443)]), ME, "a", undefined, occ)).toMatchObject({ kind: "placed", ip: "10.0.0.2" });
  });

  it("takes the least loaded IP next, then pool order", () => {
    const occ = occupancy({
      [slotName("10.0.0.1", "TCP", 1)]: "b/x/1",
      [slotName("10.0.0.1", "TCP", 2)]: "b/x/2",
      [slotName("10.0.0.2", "TCP", 1)]: "b/x/3",
    });
    expect(place(request([tcp(443)]), ME, "a", undefined, occ)).toMatchObject({ ip: "10.0.0.3" });
  });

  it("puts TCP and UDP on the same port number side by side", () => {
    const occ = occupancy({ [slotName("10.0.0.1", "TCP", 53)]: "a/ns/dns-tcp" }, { tenantServices: new Map([["10.0.0.1", 1]]) });
    expect(place(request([udp(53)]), ME, "a", undefined, occ)).toEqual({ kind: "placed", ip: "10.0.0.1", claims: [{ protocol: "UDP", port: 53, externalPort: 53 }] });
  });

  it("puts all ports of a Service on one IP: none where one of them is taken", () => {
    const occ = occupancy({ [slotName("10.0.0.1", "TCP", 443)]: "b/x/y", [slotName("10.0.0.2", "TCP", 80)]: "b/x/z" });
    expect(place(request([tcp(80), tcp(443)]), ME, "a", undefined, occ)).toMatchObject({ kind: "placed", ip: "10.0.0.3" });
  });

  it("follows an explicit sharedlb.io/ports mapping", () => {
    const got = place(request([tcp(8443)], { "sharedlb.io/ports": "8443=443" }), ME, "a", undefined, occupancy());
    expect(got).toMatchObject({ kind: "placed", claims: [{ protocol: "TCP", port: 8443, externalPort: 443 }] });
  });

  it("stays where it is, and takes back its own quarantined slot before anything else", () => {
    const held: HeldAllocation = { pool: "public", ip: "10.0.0.3", claims: [{ protocol: "TCP", port: 80, externalPort: 7 }] };
    const occ = occupancy({ [slotName("10.0.0.3", "TCP", 7)]: ME, [slotName("10.0.0.3", "TCP", 8)]: `~${ME}` });
    // Its port 80 keeps external 7; the new port 8 finds its own quarantined slot usable.
    const got = place(request([tcp(80), tcp(8)], { "sharedlb.io/port-policy": "any" }), ME, "a", held, occ);
    expect(got).toEqual({ kind: "placed", ip: "10.0.0.3", claims: [{ protocol: "TCP", port: 80, externalPort: 7 }, { protocol: "TCP", port: 8, externalPort: 8 }] });
    // Another owner's quarantined slot is not usable.
    const other = occupancy({ [slotName("10.0.0.1", "TCP", 8)]: "~b/x/y", [slotName("10.0.0.2", "TCP", 8)]: "~b/x/y", [slotName("10.0.0.3", "TCP", 8)]: "~b/x/y" });
    expect(place(request([tcp(8)]), ME, "a", undefined, other)).toMatchObject({ kind: "waiting", reason: "PortUnavailable" });
  });

  it("says PoolExhausted when no IP has room for that many ports, naming the pool or the pinned IP", () => {
    const full = occupancy({ [slotName("10.0.1.1", "TCP", 100)]: "b/x/1", [slotName("10.0.1.1", "TCP", 101)]: "b/x/2" });
    const any = { "sharedlb.io/pool": "tiny", "sharedlb.io/port-policy": "any" };
    expect(place(request([tcp(100)], any), ME, "a", undefined, full)).toEqual({ kind: "waiting", reason: "PoolExhausted", message: "pool tiny has no room for 1 more port(s)" });
    const pinned = request([tcp(100)], { ...any, "sharedlb.io/ip": "10.0.1.1" });
    expect(place(pinned, ME, "a", undefined, full)).toMatchObject({ reason: "PoolExhausted", message: "IP 10.0.1.1 has no room for 1 more port(s)" });
  });

  it("says QuotaExceeded before looking for slots, not counting what the Service holds", () => {
    const used = occupancy({}, { quotaUsed: { services: 1, ports: 1 } });
    expect(place(request([tcp(80)], {}, "small"), "small/ns/svc", "small", undefined, used)).toEqual({
      kind: "waiting",
      reason: "QuotaExceeded",
      message: "cluster small already has 1 of 1 allowed Services",
    });
    const held: HeldAllocation = { pool: "public", ip: "10.0.0.1", claims: [{ protocol: "TCP", port: 80, externalPort: 80 }] };
    const mine = occupancy({ [slotName("10.0.0.1", "TCP", 80)]: "small/ns/svc" }, { quotaUsed: { services: 1, ports: 1 } });
    expect(place(request([tcp(80), tcp(81)], {}, "small"), "small/ns/svc", "small", held, mine)).toMatchObject({ kind: "placed" });
    expect(place(request([tcp(80), tcp(81), tcp(82)], {}, "small"), "small/ns/svc", "small", held, mine)).toEqual({
      kind: "waiting",
      reason: "QuotaExceeded",
      message: "cluster small would use 3 of 2 allowed ports",
    });
  });
});
