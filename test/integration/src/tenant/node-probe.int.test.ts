import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ENDPOINT_TYPE, envoy } from "@sharedlb/envoy-api";
import { clusterName } from "@sharedlb/serving";
import { startProcess, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SotwEnvoy } from "../../../../services/xds-gateway/src/test-support/fake-envoy.js";
import {
  type GatewayProcess,
  MAIN,
  metricValue,
  startGateway,
  writeFleetFile,
} from "../../../../services/xds-gateway/src/test-support/gateway-process.js";
import { createNode } from "../l7/harness.js";
import { createLoadBalancer, createNamespace, startTenantEnv, type TenantEnv } from "./harness.js";

// Issue 12 item 6: with a real kube-apiserver, a node whose kube-proxy healthz answers 503
// (KEP-3836: drained or being deleted) leaves the endpoints through the health check, with
// no Node object change, and a Local Service's node whose healthCheckNodePort answers 503
// (no local endpoint, as kube-proxy sees it) is marked unhealthy. There is no Envoy here, so
// what is observed is the gateway's own probing, in the EDS that Envoys and proxyless gRPC
// clients receive. Test HTTP servers on the nodes' loopback addresses stand in for kube-proxy.

const C = "tenant-a";
const NS = "probe";
const NODES = { n1: "127.77.0.1", n2: "127.77.0.2" } as const;
const UNHEALTHY = envoy.config.core.v3.HealthStatus.UNHEALTHY;
const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.20-203.0.113.23"]
defaultPool: public
`;

/** A stand-in for one kube-proxy health server: answers `status` on /healthz until told otherwise. */
class HealthServer {
  status = 200;
  readonly server: Server = createServer((req, res) => {
    res.writeHead(req.url === "/healthz" ? this.status : 404, { "content-type": "application/json" });
    res.end(JSON.stringify({ localEndpoints: this.status === 200 ? 1 : 0 }));
  });

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let env: TenantEnv;
let gw: GatewayProcess;
let edge: SotwEnvoy;
const kubeProxy = { n1: new HealthServer(), n2: new HealthServer() };
const localHealth = { n1: new HealthServer(), n2: new HealthServer() };
let healthCheckNodePort = 0;
let kubeProxyPort = 0;

beforeAll(async () => {
  kubeProxyPort = await kubeProxy.n1.listen(NODES.n1, 0);
  await kubeProxy.n2.listen(NODES.n2, kubeProxyPort);
  env = await startTenantEnv();
  await createNamespace(env.core, NS);
  for (const [name, ip] of Object.entries(NODES)) await createNode(env.core, name, ip);
  await env.startAllocator(POOLS);
  await env.startWatcher({ cluster: C, replica: "w1" });
  const fleets = writeFleetFile(
    [
      "fleets:",
      "  - name: edge",
      "    pools: [public]",
      "    healthChecks: kubeProxy",
      `    kubeProxyHealthzPort: ${kubeProxyPort}`,
      "nodeAddresses: { allowLoopback: true }",
      "",
    ].join("\n"),
  );
  gw = await startGateway(env.nats.url, fleets, "gw-probe", [
    "--node-probe-interval",
    "200ms",
    "--node-probe-timeout",
    "500ms",
    "--node-probe-unhealthy-threshold",
    "2",
    "--node-probe-healthy-threshold",
    "1",
  ]);
  edge = new SotwEnvoy(gw.grpc, { id: "edge-1", cluster: "edge" }).start();

  await createLoadBalancer(env.core, NS, "web", { ports: [{ port: 80 }] });
  const local = await createLoadBalancer(env.core, NS, "db", { externalTrafficPolicy: "Local", ports: [{ port: 5432 }] });
  healthCheckNodePort = local.spec?.healthCheckNodePort ?? 0;
  await localHealth.n1.listen(NODES.n1, healthCheckNodePort);
  await localHealth.n2.listen(NODES.n2, healthCheckNodePort);
  // The test plays the EndpointSlice controller: a ready endpoint of db on both nodes.
  await env.discovery.createNamespacedEndpointSlice({
    namespace: NS,
    body: {
      metadata: { name: "db-1", namespace: NS, labels: { "kubernetes.io/service-name": "db" } },
      addressType: "IPv4",
      ports: [{ name: "p5432", port: 5432, protocol: "TCP" }],
      endpoints: Object.keys(NODES).map((nodeName, i) => ({ addresses: [`10.1.0.${i + 1}`], nodeName, conditions: { ready: true } })),
    },
  });
}, 180_000);

afterAll(async () => {
  edge?.close();
  await gw?.stop();
  await env?.stop();
  await Promise.all([...Object.values(kubeProxy), ...Object.values(localHealth)].map((s) => s.close()));
});

/** `node=healthy|UNHEALTHY` per endpoint of a Service's ClusterLoadAssignment, as the fake Envoy holds it. */
function health(service: string, port: number): string[] {
  const cla = edge.resources(ENDPOINT_TYPE).get(clusterName(C, NS, service, "TCP", port));
  return (cla?.endpoints ?? [])
    .flatMap((l) => l.lbEndpoints ?? [])
    .map((e) => `${e.endpoint?.hostname}=${e.healthStatus === UNHEALTHY ? "UNHEALTHY" : "healthy"}`)
    .sort();
}

function waitForHealth(service: string, port: number, want: string[]): Promise<unknown> {
  return waitFor(`${service} endpoints ${want.join(",")}`, () => health(service, port).join() === want.join(), 30_000).catch(
    (err: Error) => {
      throw new Error(`${err.message}; last seen ${health(service, port).join()}`);
    },
  );
}

const nodeVersions = async () => (await env.core.listNode()).items.map((n) => `${n.metadata?.name}@${n.metadata?.resourceVersion}`).sort();

describe("kube-proxy health signals (real kube-apiserver, watcher, allocator, gateway process, SotW client)", () => {
  it("a node whose kube-proxy healthz answers 503 is served UNHEALTHY with no Node change, and healthy again once it answers 200", async () => {
    await waitForHealth("web", 80, ["n1=healthy", "n2=healthy"]);
    const before = await nodeVersions();

    kubeProxy.n1.status = 503;
    await waitForHealth("web", 80, ["n1=UNHEALTHY", "n2=healthy"]);
    expect(await nodeVersions()).toEqual(before);
    expect(gw.proc.output()).toMatch(/"node":"n1".*node health signal fails: HTTP 503/);
    const metrics = await gw.metrics();
    expect(metricValue(metrics, "sharedlb_xds_node_probes_total", { kind: "kube_proxy", outcome: "unhealthy" })).toBeGreaterThan(0);
    expect(metricValue(metrics, "sharedlb_xds_node_probe_failing_targets", { kind: "kube_proxy" })).toBe(1);

    kubeProxy.n1.status = 200;
    await waitForHealth("web", 80, ["n1=healthy", "n2=healthy"]);
    expect(await nodeVersions()).toEqual(before);
    expect(edge.errors).toEqual([]);
  });

  it("a Local Service's node whose healthCheckNodePort answers 503 is served UNHEALTHY for that Service only", async () => {
    expect(healthCheckNodePort).toBeGreaterThan(0);
    await waitForHealth("db", 5432, ["n1=healthy", "n2=healthy"]);

    localHealth.n2.status = 503;
    await waitForHealth("db", 5432, ["n1=healthy", "n2=UNHEALTHY"]);
    // kube-proxy itself is fine on n2: the Cluster Service keeps it.
    expect(health("web", 80)).toEqual(["n1=healthy", "n2=healthy"]);
    const metrics = await gw.metrics();
    expect(metricValue(metrics, "sharedlb_xds_node_probe_failing_targets", { kind: "health_check_node_port" })).toBe(1);

    localHealth.n2.status = 200;
    await waitForHealth("db", 5432, ["n1=healthy", "n2=healthy"]);
  });

  it("a node refusing connections on kube-proxy's port counts as failing too", async () => {
    await waitForHealth("web", 80, ["n1=healthy", "n2=healthy"]);
    await kubeProxy.n2.close();
    await waitForHealth("web", 80, ["n1=healthy", "n2=UNHEALTHY"]);
    expect(metricValue(await gw.metrics(), "sharedlb_xds_node_probes_total", { kind: "kube_proxy", outcome: "error" })).toBeGreaterThan(0);
    await kubeProxy.n2.listen(NODES.n2, kubeProxyPort);
    await waitForHealth("web", 80, ["n1=healthy", "n2=healthy"]);
  });

  it("exits 2 naming the fleets and the pool when two fleets serve one pool with different health checks", async () => {
    const bad = writeFleetFile(
      "fleets:\n  - { name: edge, pools: [public], healthChecks: kubeProxy }\n  - { name: backup, pools: [public], healthChecks: tcp }\n",
    );
    const p = startProcess(process.execPath, [MAIN, "--config", bad, "--nats-url", "nats://127.0.0.1:1"]);
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain(`${bad}: fleets "edge" and "backup" both serve pool "public" with different health checks`);
  });
});
