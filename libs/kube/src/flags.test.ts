import { ConfigError } from "@sharedlb/runtime";
import { describe, expect, it } from "vitest";
import { parseDuration } from "@sharedlb/runtime";
import { leaseTimings, requireCluster } from "./flags.js";
import { inScope } from "./scope.js";

describe("tenant flags", () => {
  it("parses durations", () => {
    expect(parseDuration("x", "500ms")).toBe(500);
    expect(parseDuration("x", "1.5s")).toBe(1500);
    expect(parseDuration("x", "2")).toBe(2000);
    expect(parseDuration("x", "5m")).toBe(300_000);
    expect(() => parseDuration("x", "soon")).toThrow(ConfigError);
  });

  it("rejects lease timings that could let two leaders overlap", () => {
    expect(leaseTimings({ leaseDuration: "15s", leaseRenewDeadline: "10s", leaseRetryPeriod: "2s" })).toEqual({
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2000,
    });
    expect(() => leaseTimings({ leaseDuration: "5s", leaseRenewDeadline: "5s", leaseRetryPeriod: "1s" })).toThrow(/renew-deadline/);
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
