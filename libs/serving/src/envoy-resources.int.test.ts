// Everything libs/serving builds, including source ranges, ClientIP affinity and PROXY
// protocol, must pass Envoy's own validation rules (go-control-plane's ValidateAll, nested
// Anys included, via tools/envoy-validate).
import { validateEnvoyResources } from "@sharedlb/testing";
import { describe, expect, it } from "vitest";
import { buildServiceResources } from "./envoy-resources.js";
import { webPlan } from "./test-support/plans.js";

describe("Envoy resources under Envoy's validation rules", () => {
  it.each([
    ["plain", {}],
    ["source ranges, IPv4 and IPv6", { loadBalancerSourceRanges: ["10.1.0.0/16", "192.0.2.7/32", "2001:db8::/32"] }],
    ["ClientIP affinity", { sessionAffinity: "ClientIP" as const }],
    [
      "PROXY protocol v2 with ranges and affinity",
      {
        loadBalancerSourceRanges: ["10.1.0.0/16"],
        sessionAffinity: "ClientIP" as const,
        annotations: { "sharedlb.io/proxy-protocol": "v2" },
      },
    ],
  ])("%s", async (_, over) => {
    for (const mode of ["tcp", "kubeProxy"] as const) {
      const built = buildServiceResources(webPlan(over, "203.0.113.10", mode));
      expect(await validateEnvoyResources(built.map((b) => b.any)), mode).toEqual([]);
    }
  });
  it("dual-stack: IPv4 and IPv6 listeners of every port, with source ranges of both families", async () => {
    for (const mode of ["tcp", "kubeProxy"] as const) {
      const plan = webPlan({ loadBalancerSourceRanges: ["10.1.0.0/16", "2001:db8:ff::/48"] }, "203.0.113.10", mode, undefined, ["203.0.113.10", "2001:db8::10"]);
      const built = buildServiceResources(plan);
      expect(built.filter((b) => b.name.startsWith("tcp-2001:db8::10-")).length, mode).toBe(2);
      expect(await validateEnvoyResources(built.map((b) => b.any)), mode).toEqual([]);
    }
  });
  it("Local policy with kube-proxy health checks on the healthCheckNodePort", async () => {
    const built = buildServiceResources(
      webPlan({ externalTrafficPolicy: "Local", healthCheckNodePort: 32123 }, "203.0.113.10", "kubeProxy", ["w1"]),
    );
    expect(await validateEnvoyResources(built.map((b) => b.any))).toEqual([]);
  });
});
