import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig, type V1Node, type V1Service } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENDPOINT_TYPE, LISTENER_TYPE } from "@sharedlb/envoy-api";
import { makeTestPki, type ManagedProcess, waitFor } from "@sharedlb/testing";
import type { DeltaEnvoy } from "../../../services/xds-gateway/src/test-support/fake-envoy.js";
import { makeTestIdentities, type TestIdentities } from "../../../cli/src/test-support/nats-identities.js";
import { startEdgeGateway } from "./edge-gateway.js";
import { natsTlsDir } from "./security/nats-tls.js";
import { shippedNatsConfig } from "./security/shipped-nats.js";
import { condition, createLoadBalancer, createNamespace, eventsFor, mergePatch, startTenantEnv, type TenantEnv, waitForService } from "./tenant/harness.js";

// The whole L4 path with every service a real OS process: Services created through a real
// kube-apiserver → watcher → NATS → allocator (Redis) → status-reporter writes status back,
// and xds-gateway serves what an Envoy of the fleet must listen on and forward to.
// Security as shipped: nats-server with deploy/k8s/lb's nats.conf (TLS, nkey identities from
// `sharedlb tenant add`'s rendering), tenant processes verify-only with their own identity,
// Redis with AUTH and TLS, ADS over mutual TLS.

const C = "e2e";
const NS = "shop";
const IPS = ["203.0.113.10", "203.0.113.11", "203.0.113.12"];
const POOLS = `
pools:
  - name: public
    addresses: ["${IPS[0]}-${IPS[2]}"]
    ports: "1-65535"
  - name: tiny
    addresses: ["198.51.100.7"]
    ports: "40000-40000"
defaultPool: public
releaseDelaySeconds: 1
`;
const REDIS_PASSWORD = `e2e-redis-${randomBytes(12).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "sharedlb-e2e-"));
let ids: TestIdentities;

let env: TenantEnv;
let watcher: ManagedProcess;
let gateway: ManagedProcess;
let envoy: DeltaEnvoy;

function node(name: string, ip: string): V1Node {
  const now = new Date();
  return {
    metadata: { name },
    status: {
      addresses: [{ type: "InternalIP", address: ip }],
      conditions: [{ type: "Ready", status: "True", reason: "KubeletReady", message: "ready", lastHeartbeatTime: now, lastTransitionTime: now }],
    },
  };
}

async function setReady(name: string, ready: boolean): Promise<void> {
  const now = new Date();
  await env.core.patchNodeStatus(
    { name, body: { status: { conditions: [{ type: "Ready", status: ready ? "True" : "False", reason: "Test", message: "set by the test", lastHeartbeatTime: now, lastTransitionTime: now }] } } },
    mergePatch,
  );
}

/** Node IPs of a ClusterLoadAssignment the Envoy holds, sorted. */
function endpointsOf(cluster: string): string[] {
  const cla = envoy.resources(ENDPOINT_TYPE).get(cluster);
  const out: string[] = [];
  for (const group of cla?.endpoints ?? []) {
    for (const e of group.lbEndpoints ?? []) {
      const sa = e.endpoint?.address?.socketAddress;
      if (sa) out.push(`${sa.address}:${sa.portValue}`);
    }
  }
  return out.sort();
}

const allocated = (s: V1Service) => condition(s)?.status === "True" && (s.status?.loadBalancer?.ingress?.length ?? 0) > 0;

beforeAll(async () => {
  mkdirSync(join(dir, "nkeys"));
  ids = makeTestIdentities(join(dir, "nkeys"), [C]);
  const natsTls = natsTlsDir(join(dir, "nats-tls"));
  const natsCa = natsTls.pki.caFile;
  const redisPki = makeTestPki(join(dir, "redis-pki"), "redis-ca");
  const redisServer = redisPki.issue("redis", { ip: ["127.0.0.1"], dns: ["localhost"] });
  env = await startTenantEnv({
    nats: { config: shippedNatsConfig(natsTls.dir), files: { "nats-auth.conf": ids.authorization() } },
    redis: { password: REDIS_PASSWORD, tls: { certFile: redisServer.certFile, keyFile: redisServer.keyFile, caFile: redisPki.caFile } },
    lbSecurity: {
      fixture: { nkeyFile: ids.seedFile("allocator"), caFile: natsCa },
      allocatorArgs: ["--nats-nkey", ids.seedFile("allocator"), "--nats-ca", natsCa, "--redis-ca", redisPki.caFile],
      allocatorEnv: { SHAREDLB_REDIS_PASSWORD: REDIS_PASSWORD },
    },
    tenantArgs: (cluster) => ["--nats-nkey", ids.seedFile(cluster), "--nats-inbox-prefix", `_INBOX_${cluster}`, "--stream-mode", "verify", "--nats-ca", natsCa],
  });
  await createNamespace(env.core, NS);
  for (const [i, name] of ["node-1", "node-2", "node-3"].entries()) {
    const created = await env.core.createNode({ body: { metadata: { name } } });
    expect(created.metadata?.name).toBe(name);
    await env.core.replaceNodeStatus({ name, body: { ...node(name, `10.0.0.${i + 1}`), metadata: created.metadata } });
  }
  await env.startAllocator(POOLS);
  watcher = await env.startWatcher({ cluster: C, replica: "w1" });
  await env.startReporter({ cluster: C, replica: "r1" });
  ({ gateway, envoy } = await startEdgeGateway(env.nats.url, ["public", "tiny"], {
    natsArgs: ["--nats-nkey", ids.seedFile("gateway"), "--nats-ca", natsCa],
    dir: join(dir, "edge"),
  }));
});

afterAll(async () => {
  envoy?.close();
  await gateway?.stop();
  await env?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Every credential of the run: nkey seeds, the Redis password, ServiceAccount tokens, private key PEM body lines. */
function secrets(): Map<string, string> {
  const out = new Map<string, string>([["Redis password", REDIS_PASSWORD]]);
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".nk") || f.endsWith(".key"));
  for (const f of files) {
    const body = readFileSync(join(dir, f), "utf8").split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("-----"));
    for (const [i, line] of body.entries()) out.set(`${f} line ${i + 1}`, line);
  }
  for (const [sa, kubeconfig] of [["watcher", env.watcherKubeconfig], ["status-reporter", env.reporterKubeconfig]] as const) {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    out.set(`${sa} ServiceAccount token`, kc.getCurrentUser()?.token ?? "");
  }
  return out;
}

describe("end to end: Kubernetes → allocation → status → Envoy", () => {
  it("gives 50 Services shared addresses, status, a condition and an Event, and Envoy matching listeners and endpoints", async () => {
    // TCP and UDP 53 in one Service, first, so it gets 53 itself.
    await createLoadBalancer(env.core, NS, "dns", { ports: [{ name: "dns-tcp", port: 53 }, { name: "dns-udp", port: 53, protocol: "UDP" }] });
    // 50 Services on 3 IPs: ten want each port set, so most must accept another port.
    const portSets = [[80], [443], [80, 443], [53], [8080]];
    for (let i = 0; i < 50; i++) {
      const ports = (portSets[i % portSets.length] as number[]).map((port) => ({ name: `p${port}`, port }));
      await createLoadBalancer(env.core, NS, `svc-${i}`, { ports, annotations: { "sharedlb.io/port-policy": "any" } });
    }

    const services = new Map<string, V1Service>();
    await waitFor("every Service to have its address", async () => {
      const list = await env.core.listNamespacedService({ namespace: NS });
      for (const s of list.items) if (allocated(s)) services.set(s.metadata?.name as string, s);
      return services.size === 51;
    }, 120_000, 250);

    const slots = new Set<string>();
    const expectedListeners: string[] = [];
    for (const [name, s] of services) {
      const ingress = s.status?.loadBalancer?.ingress ?? [];
      expect(ingress, name).toHaveLength(1);
      const ing = ingress[0];
      expect(IPS, name).toContain(ing?.ip);
      expect(ing?.ipMode, name).toBe("Proxy");
      const annotation = s.metadata?.annotations?.["sharedlb.io/allocated-ports"] ?? "";
      expect(annotation, name).not.toBe("");
      for (const item of annotation.split(",")) {
        const [left = "", external = ""] = item.split("=");
        const [, proto = ""] = left.split("/");
        const slot = `${proto.toLowerCase()}-${ing?.ip}-${external}`;
        expect(slots.has(slot), `${slot} given twice`).toBe(false);
        slots.add(slot);
        expectedListeners.push(slot);
      }
      expect((ing?.ports ?? []).map((p) => `${p.protocol}/${p.port}`).sort()).toEqual(
        annotation.split(",").map((i) => `${i.split("=")[0]?.split("/")[1]}/${i.split("=")[1]}`).sort(),
      );
      expect(condition(s)?.reason, name).toBe("Allocated");
    }
    const dns = services.get("dns");
    expect(dns?.metadata?.annotations?.["sharedlb.io/allocated-ports"]).toBe("53/TCP=53,53/UDP=53");
    // Fewer IPs than Services: they share addresses.
    expect(new Set([...services.values()].map((s) => s.status?.loadBalancer?.ingress?.[0]?.ip)).size).toBeLessThanOrEqual(3);

    const events = await eventsFor(env.core, NS, "svc-7");
    expect(events.map((e) => e.reason)).toContain("Allocated");

    // Envoy of fleet "edge" listens on exactly the allocated slots and forwards to every node.
    await waitFor("Envoy to hold every allocated listener", () => expectedListeners.every((l) => envoy.names(LISTENER_TYPE).includes(l)), 60_000, 100);
    expect(envoy.names(LISTENER_TYPE).sort()).toEqual([...expectedListeners].sort());
    const web = services.get("svc-2") as V1Service;
    const nodePort = web.spec?.ports?.find((p) => p.port === 443)?.nodePort;
    const cluster = `${C}/${NS}/svc-2/tcp-443`;
    await waitFor("svc-2's endpoints", () => endpointsOf(cluster).length === 3, 30_000, 100);
    expect(endpointsOf(cluster)).toEqual([`10.0.0.1:${nodePort}`, `10.0.0.2:${nodePort}`, `10.0.0.3:${nodePort}`]);
    expect(envoy.errors).toEqual([]);
  });

  it("drops a NotReady or excluded node from the endpoints, and puts it back", async () => {
    const cluster = `${C}/${NS}/svc-2/tcp-443`;
    const listenersBefore = envoy.names(LISTENER_TYPE);
    await setReady("node-2", false);
    await waitFor("node-2 to leave", () => endpointsOf(cluster).length === 2 && !endpointsOf(cluster).some((e) => e.startsWith("10.0.0.2:")), 30_000, 100);
    await env.core.patchNode({ name: "node-3", body: { metadata: { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "" } } } }, mergePatch);
    await waitFor("node-3 to leave", () => endpointsOf(cluster).length === 1, 30_000, 100);
    expect(endpointsOf(cluster)[0]).toMatch(/^10\.0\.0\.1:/);
    expect(envoy.names(LISTENER_TYPE)).toEqual(listenersBefore);
    await setReady("node-2", true);
    await env.core.patchNode({ name: "node-3", body: { metadata: { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": null } } } }, mergePatch);
    await waitFor("all nodes back", () => endpointsOf(cluster).length === 3, 30_000, 100);
  });

  it("sends a Local Service's traffic only to nodes with ready endpoints", async () => {
    await createLoadBalancer(env.core, NS, "local", { externalTrafficPolicy: "Local", ports: [{ name: "p9443", port: 9443 }] });
    await env.discovery.createNamespacedEndpointSlice({
      namespace: NS,
      body: {
        metadata: { name: "local-1", namespace: NS, labels: { "kubernetes.io/service-name": "local" } },
        addressType: "IPv4",
        ports: [{ name: "p9443", port: 9443, protocol: "TCP" }],
        endpoints: [
          { addresses: ["10.1.0.1"], nodeName: "node-1", conditions: { ready: true } },
          { addresses: ["10.1.0.2"], nodeName: "node-3", conditions: { ready: false } },
        ],
      },
    });
    const cluster = `${C}/${NS}/local/tcp-9443`;
    await waitFor("only node-1 to serve the Local Service", () => endpointsOf(cluster).length === 1 && endpointsOf(cluster)[0]?.startsWith("10.0.0.1:"), 30_000, 100);
  });

  it("shows PoolExhausted on the Service when its pool is full, and serves it when capacity frees", async () => {
    const tiny = { "sharedlb.io/pool": "tiny", "sharedlb.io/port-policy": "any" };
    await createLoadBalancer(env.core, NS, "tiny-1", { annotations: tiny, ports: [{ port: 7000 }] });
    await waitForService(env.core, NS, "tiny-1", allocated, "allocated", 30_000);
    await createLoadBalancer(env.core, NS, "tiny-2", { annotations: tiny, ports: [{ port: 7000 }] });
    const waiting = await waitForService(env.core, NS, "tiny-2", (s) => condition(s)?.reason === "PoolExhausted", "PoolExhausted", 30_000);
    expect(condition(waiting)?.status).toBe("False");
    await waitFor("an AllocationFailed Event naming PoolExhausted", async () =>
      (await eventsFor(env.core, NS, "tiny-2")).some((e) => e.reason === "AllocationFailed" && /PoolExhausted/.test(e.message ?? "")), 30_000, 200);
    await env.core.deleteNamespacedService({ name: "tiny-1", namespace: NS });
    const served = await waitForService(env.core, NS, "tiny-2", allocated, "served after tiny-1 left", 30_000);
    expect(served.status?.loadBalancer?.ingress?.[0]?.ip).toBe("198.51.100.7");
    await waitFor("Envoy to listen for tiny-2", () => envoy.names(LISTENER_TYPE).includes("tcp-198.51.100.7-40000"), 30_000, 100);
  });

  it("releases Services deleted while the watcher was down, and Envoy stops listening", async () => {
    const svc = "svc-4";
    const before = await env.core.readNamespacedService({ name: svc, namespace: NS });
    const ip = before.status?.loadBalancer?.ingress?.[0]?.ip;
    const external = before.metadata?.annotations?.["sharedlb.io/allocated-ports"]?.split("=")[1];
    const listener = `tcp-${ip}-${external}`;
    expect(envoy.names(LISTENER_TYPE)).toContain(listener);
    await watcher.stop();
    await env.core.deleteNamespacedService({ name: svc, namespace: NS });
    watcher = await env.startWatcher({ cluster: C, replica: "w2" });
    await waitFor(`Envoy to stop listening on ${listener}`, () => !envoy.names(LISTENER_TYPE).includes(listener), 60_000, 100);
    // The gateway drops the listener on the watcher's tombstone; the allocator's Released
    // allocation follows.
    await waitFor(`${svc} Released`, async () => (await env.fx.allocations()).get(`${C}/${NS}/${svc}`)?.state === "Released", 30_000, 100);
  });

  it("ran with security on, and no credential appears in any process's output", async () => {
    const logs = [...env.logs(), { process: "xds-gateway", output: gateway.output() }];
    const byName = (name: string) => logs.filter((l) => l.process === name).map((l) => l.output).join("\n");
    // The run was the secure one: tenant processes only verified the streams, Redis spoke TLS.
    for (const replica of ["w1", "w2", "r1"]) expect(byName(replica), replica).toMatch(/streams verified/);
    expect(byName("alloc-1")).toMatch(/"tls":true/);
    const found = secrets();
    // Seeds of four identities, the keys of three CAs and their leaves, two tokens, the password.
    expect([...found.keys()].filter((k) => k.endsWith(".nk line 1"))).toHaveLength(4);
    // NATS CA + server (+ its mounted copy tls.key), Redis CA + server, fleet CA + gateway + Envoy.
    expect([...found.keys()].filter((k) => k.endsWith(".key line 1"))).toHaveLength(8);
    for (const [what, secret] of found) {
      expect(secret.length, `${what} is a real secret`).toBeGreaterThanOrEqual(16);
      for (const { process, output } of logs) expect(output.includes(secret), `${what} in the output of ${process}`).toBe(false);
    }
  });
});
