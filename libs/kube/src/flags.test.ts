import { describe, expect, it } from "vitest";
import { leaseTimings, requireCluster } from "./flags.js";
import { inScope } from "./scope.js";

describe("tenant flags", () => {
  it("rejects lease timings that could let two leaders overlap", () => {
    expect(leaseTimings({ leaseDuration: 15_000, leaseRenewDeadline: 10_000, leaseRetryPeriod: 2000 })).toEqual({
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2000,
    });
    expect(() => leaseTimings({ leaseDuration: 5000, leaseRenewDeadline: 5000, leaseRetryPeriod: 1000 })).toThrow(/renew-deadline/);
  });

  it("requires a DNS-label cluster id", () => {
    expect(requireCluster("p", "tenant-a")).toBe("tenant-a");
    expect(() => requireCluster("p", undefined)).toThrow(/--cluster/);
    expect(() => requireCluster("p", "Tenant.A")).toThrow(/DNS label/);
  });
});

describe("class scope", () => {
  const scope = { loadBalancerClass: "sharedlb.io/envoy", defaultClass: false };
  it("serves its class; class-less only as default; never another class; only LoadBalancer", () => {
    expect(inScope({ spec: { type: "LoadBalancer", loadBalancerClass: "sharedlb.io/envoy" } }, scope)).toBe(true);
    expect(inScope({ spec: { type: "LoadBalancer" } }, scope)).toBe(false);
    expect(inScope({ spec: { type: "LoadBalancer" } }, { ...scope, defaultClass: true })).toBe(true);
    expect(inScope({ spec: { type: "LoadBalancer", loadBalancerClass: "x.io/y" } }, { ...scope, defaultClass: true })).toBe(false);
    expect(inScope({ spec: { type: "NodePort", loadBalancerClass: "sharedlb.io/envoy" } }, scope)).toBe(false);
  });
});
