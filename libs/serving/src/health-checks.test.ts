import { envoy } from "@sharedlb/envoy-api";
import { allocation, endpoints, endpointsMsg, node, nodeMsg, service, serviceMsg } from "@sharedlb/testing/resources";
import { describe, expect, it } from "vitest";
import { anyValue } from "./encode.js";
import { buildLoadAssignments } from "./envoy-resources.js";
import { FleetConfigError, type FleetFile, resolveHealthChecks } from "./fleets.js";
import { type FailedProbe, probeTargetKey } from "./node-selection.js";
import { PoolHealthChecks } from "./plan.js";
import { TenantView } from "./view.js";

import ClusterLoadAssignment = envoy.config.endpoint.v3.ClusterLoadAssignment;

const file = (over: Partial<FleetFile>): FleetFile => ({ fleets: [{ name: "edge", pools: ["public"] }], ...over });

describe("resolveHealthChecks (fleet file)", () => {
  it("defaults to TCP connect with kube-proxy's port 10256", () => {
    expect(resolveHealthChecks(file({})).forPool("public")).toEqual({ mode: "tcp", kubeProxyPort: 10256 });
  });

  it("a pool's entry wins over its fleet's, a fleet's over the file's; missing keys of a pool entry come from the file", () => {
    const checks = resolveHealthChecks({
      healthChecks: "tcp",
      kubeProxyHealthzPort: 10300,
      fleets: [
        { name: "edge", pools: ["public", "lab"], healthChecks: "kubeProxy", kubeProxyHealthzPort: 10400 },
        { name: "internal", pools: ["private"] },
      ],
      pools: { lab: { healthChecks: "kubeProxy" } },
    });
    expect(checks.forPool("public")).toEqual({ mode: "kubeProxy", kubeProxyPort: 10400 });
    expect(checks.forPool("lab")).toEqual({ mode: "kubeProxy", kubeProxyPort: 10300 });
    expect(checks.forPool("private")).toEqual({ mode: "tcp", kubeProxyPort: 10300 });
    expect(checks.anyKubeProxy).toBe(true);
  });

  it("refuses two fleets serving one pool with different checks, naming both and the pool, unless the pool has an entry", () => {
    const fleets = [
      { name: "edge", pools: ["public"], healthChecks: "kubeProxy" as const },
      { name: "backup", pools: ["public"] },
    ];
    expect(() => resolveHealthChecks({ fleets })).toThrow(FleetConfigError);
    expect(() => resolveHealthChecks({ fleets })).toThrow(/fleets "edge" and "backup" both serve pool "public".*pools\.public/);
    expect(resolveHealthChecks({ fleets, pools: { public: { healthChecks: "tcp" } } }).forPool("public").mode).toBe("tcp");
  });

  it("refuses a pool entry for a pool no fleet serves", () => {
    expect(() => resolveHealthChecks(file({ pools: { pubic: { healthChecks: "kubeProxy" } } }))).toThrow(/pools\.pubic: no fleet serves/);
  });
});

describe("probe verdicts in the view", () => {
  const kubeProxy = new PoolHealthChecks(
    { mode: "kubeProxy", kubeProxyPort: 10256 },
    new Map([["tcp-pool", { mode: "tcp", kubeProxyPort: 10256 }]]),
  );
  const cluster = service("a", "shop", "web");
  const local = service("a", "shop", "db", { externalTrafficPolicy: "Local", healthCheckNodePort: 32100 });
  const plain = service("a", "shop", "plain");

  function view() {
    const v = new TenantView({ healthChecks: kubeProxy });
    for (const n of [node("a", "w1", "10.0.0.1"), node("a", "w2", "10.0.0.2"), node("a", "lo", "127.0.0.1")]) v.applyResource(nodeMsg(n));
    for (const s of [cluster, local, plain]) v.applyResource(serviceMsg(s));
    v.applyAllocation(allocation(cluster, "203.0.113.10"));
    v.applyAllocation(allocation(local, "203.0.113.11"));
    v.applyAllocation(allocation(plain, "203.0.113.12", { pool: "tcp-pool" }));
    v.applyResource(endpointsMsg(endpoints("a", "shop", "db", ["w2"])));
    v.takeDirty();
    return v;
  }

  it("probes kube-proxy on every served node of Cluster Services and the healthCheckNodePort on a Local Service's nodes, never refused addresses nor TCP pools", () => {
    const targets = view()
      .probeTargets()
      .map((t) => `${t.kind} ${t.node} ${t.address}:${t.port}`)
      .sort();
    expect(targets).toEqual(["healthCheckNodePort w2 10.0.0.2:32100", "kubeProxy w1 10.0.0.1:10256", "kubeProxy w2 10.0.0.2:10256"]);
  });

  it("a failing signal marks that node's endpoints UNHEALTHY for the Services reading it, and only those; clearing it restores them", () => {
    const v = view();
    const failed: FailedProbe = { cluster: "a", node: "w1", message: "HTTP 503 from 10.0.0.1:10256/healthz" };
    v.setProbeVerdicts(new Map([[probeTargetKey("a", "10.0.0.1", 10256), failed]]));
    expect([...v.takeDirty().endpoints].sort()).toEqual(["a/shop/db", "a/shop/plain", "a/shop/web"]);
    const health = (key: string) =>
      buildLoadAssignments(v.plan(key) ?? expect.fail("no plan")).flatMap((r) =>
        ClusterLoadAssignment.decode(anyValue(r.any)).endpoints.flatMap((l) =>
          (l.lbEndpoints ?? []).map((e) => `${e.endpoint?.hostname}:${e.healthStatus}`),
        ),
      );
    expect(v.plan("a/shop/web")?.endpoints).toEqual([
      { node: "w1", address: "10.0.0.1", unhealthy: failed.message },
      { node: "w2", address: "10.0.0.2" },
    ]);
    expect(health("a/shop/web")).toEqual([`w1:${envoy.config.core.v3.HealthStatus.UNHEALTHY}`, "w2:0"]);
    // The Local Service reads its healthCheckNodePort, the TCP pool no signal at all.
    expect(v.plan("a/shop/db")?.endpoints.every((e) => e.unhealthy === undefined)).toBe(true);
    expect(v.plan("a/shop/plain")?.endpoints.every((e) => e.unhealthy === undefined)).toBe(true);
    v.setProbeVerdicts(new Map());
    expect(v.takeDirty().endpoints.has("a/shop/web")).toBe(true);
    expect(v.plan("a/shop/web")?.endpoints.every((e) => e.unhealthy === undefined)).toBe(true);
  });

  it("the same verdicts again change nothing", () => {
    const v = view();
    const verdicts = new Map([[probeTargetKey("a", "10.0.0.2", 32100), { cluster: "a", node: "w2", message: "HTTP 503" }]]);
    v.setProbeVerdicts(verdicts);
    expect(v.plan("a/shop/db")?.endpoints).toEqual([{ node: "w2", address: "10.0.0.2", unhealthy: "HTTP 503" }]);
    v.takeDirty();
    v.setProbeVerdicts(new Map(verdicts));
    expect(v.takeDirty().endpoints.size).toBe(0);
  });
});
