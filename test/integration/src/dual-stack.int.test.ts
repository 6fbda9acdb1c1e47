import type { V1Service } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LISTENER_TYPE } from "@sharedlb/envoy-api";
import { type ManagedProcess, waitFor } from "@sharedlb/testing";
import type { DeltaEnvoy } from "../../../services/xds-gateway/src/test-support/fake-envoy.js";
import { startEdgeGateway } from "./edge-gateway.js";
import { condition, createLoadBalancer, createNamespace, startTenantEnv, type TenantEnv, waitForService } from "./tenant/harness.js";

// Dual-stack end to end, every service a real OS process: a kube-apiserver with one
// Service CIDR per family (so it accepts RequireDualStack Services) → watcher → allocator
// (an IPv4 and an IPv6 pool) → status-reporter writes both addresses in ipFamilies order,
// and the xds-gateway serves a listener on each address.

const C = "ds";
const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.10"]
  - name: public6
    addresses: ["2001:db8::10"]
    namespaces: ["dual"]
defaultPool: public
familyPools:
  IPv6: public6
releaseDelaySeconds: 1
`;

let env: TenantEnv;
let gateway: ManagedProcess;
let envoy: DeltaEnvoy;

beforeAll(async () => {
  env = await startTenantEnv({ serviceClusterIpRange: "10.96.0.0/16,fd00:10:96::/108" });
  await createNamespace(env.core, "dual");
  await createNamespace(env.core, "nov6");
  await env.startAllocator(POOLS);
  await env.startWatcher({ cluster: C, replica: "w1" });
  await env.startReporter({ cluster: C, replica: "r1" });
  ({ gateway, envoy } = await startEdgeGateway(env.nats.url, ["public", "public6"]));
});

afterAll(async () => {
  envoy?.close();
  await gateway?.stop();
  await env?.stop();
});

const ingressIps = (s: V1Service) => (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip);

describe("dual-stack Services end to end: Kubernetes → allocation → status → Envoy", () => {
  it("gives a RequireDualStack Service an IPv4 and an IPv6 address, both in status (ipFamilies order) and both listened on", async () => {
    const created = await createLoadBalancer(env.core, "dual", "web", { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv6", "IPv4"], ports: [{ name: "https", port: 443 }] });
    // The test apiserver itself is dual-stack: it gave the Service a ClusterIP per family.
    expect(created.spec?.clusterIPs).toHaveLength(2);
    const svc = await waitForService(env.core, "dual", "web", (s) => ingressIps(s).length === 2, "two ingress addresses", 30_000);
    expect(ingressIps(svc)).toEqual(["2001:db8::10", "203.0.113.10"]);
    for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
      expect(ing.ipMode).toBe("Proxy");
      expect(ing.ports).toEqual([{ port: 443, protocol: "TCP" }]);
    }
    expect(svc.metadata?.annotations?.["sharedlb.io/allocated-ports"]).toBe("443/TCP=443");
    expect(condition(svc)).toMatchObject({ status: "True", reason: "Allocated", message: expect.stringContaining("2001:db8::10, 203.0.113.10") });

    const names = ["tcp-2001:db8::10-443", "tcp-203.0.113.10-443"];
    await waitFor("Envoy to hold both listeners", () => names.every((n) => envoy.names(LISTENER_TYPE).includes(n)), 60_000, 100);
    const v6 = envoy.resources(LISTENER_TYPE).get("tcp-2001:db8::10-443");
    expect(v6?.address?.socketAddress?.address).toBe("2001:db8::10");
    expect(envoy.errors).toEqual([]);
  });

  it("serves a PreferDualStack Service without an IPv6 pool on IPv4, and says why in the condition", async () => {
    await createLoadBalancer(env.core, "nov6", "prefer", { ipFamilyPolicy: "PreferDualStack", ipFamilies: ["IPv4", "IPv6"], ports: [{ name: "p8443", port: 8443 }] });
    const svc = await waitForService(env.core, "nov6", "prefer", (s) => condition(s)?.status === "True", "Allocated condition", 30_000);
    expect(ingressIps(svc)).toEqual(["203.0.113.10"]);
    expect(condition(svc)?.message).toContain("PreferDualStack: no IPv6 pool serves this Service");
  });

  it("fails a RequireDualStack Service without an IPv6 pool with UnknownPool", async () => {
    await createLoadBalancer(env.core, "nov6", "require", { ipFamilyPolicy: "RequireDualStack", ipFamilies: ["IPv4", "IPv6"], ports: [{ name: "p9443", port: 9443 }] });
    const svc = await waitForService(env.core, "nov6", "require", (s) => condition(s)?.status === "False", "a False condition", 30_000);
    expect(condition(svc)).toMatchObject({ reason: "UnknownPool", message: expect.stringContaining("RequireDualStack: no IPv6 pool serves this Service") });
    expect(ingressIps(svc)).toEqual([]);
  });
});
