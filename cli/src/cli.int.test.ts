import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Allocation,
  type EventData,
  type EventType,
  type L7Allocation,
  type ListenerAllocation,
  makeEvent,
  type NodeResource,
  type RouteResource,
  subjects,
} from "@sharedlb/contracts";
import { publishEvent } from "@sharedlb/runtime";
import {
  freePort,
  type ManagedProcess,
  type NatsFixture,
  natsFixture,
  serviceResource,
  startNats,
  startProcess,
  startRedis,
  type TestNats,
  type TestRedis,
  waitFor,
} from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAllocator, waitForAllocation, writePoolFile } from "../../services/allocator/src/test-support/allocator-process.js";
import { l7Allocation, listenerAllocation } from "./test-support/l7-allocations.js";

// The CLI runs as the real built program, the way an operator runs it.
const CLI = fileURLToPath(new URL("../dist/main.js", import.meta.url));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, NO_COLOR: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const POOLS = `
pools:
  - name: public
    addresses: ["203.0.113.10-203.0.113.11"]
  - name: small
    addresses: ["198.51.100.1"]
    ports: "20000-20001"
defaultPool: public
releaseDelaySeconds: 1
`;

let nats: TestNats;
let redis: TestRedis;
let fx: NatsFixture;
let allocator: ManagedProcess;
let web: Allocation;
let dns: Allocation;
let fleetFile: string;

const source = "sharedlb/watcher/test";
async function publish<T extends EventType>(
  natsSubject: string,
  type: T,
  subject: string,
  data: EventData<T>,
  src = source,
): Promise<void> {
  await publishEvent(fx.js, natsSubject, makeEvent({ type, source: src, subject, data }));
}

function node(name: string, internal: string, over: Partial<NodeResource> = {}): NodeResource {
  return { cluster: "a", name, addresses: { internal, external: "" }, ready: true, excluded: false, ...over };
}

beforeAll(async () => {
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
  fx = await natsFixture(nats.url);
  allocator = await startAllocator({ config: writePoolFile(POOLS), natsUrl: nats.url, redisUrl: redis.url, replica: "cli" });

  for (const n of [
    node("worker-1", "10.0.0.1"),
    node("worker-2", "10.0.0.2"),
    node("worker-3", "10.0.0.3", { ready: false }),
    node("worker-4.example.com", "10.0.0.4", { excluded: true }),
  ]) {
    await publish(subjects.node("a", n.name), "io.sharedlb.node.v1", `a//${n.name}`, n);
  }
  await publish(subjects.endpoints("a", "shop", "dns"), "io.sharedlb.endpoints.v1", "a/shop/dns", {
    cluster: "a",
    namespace: "shop",
    name: "dns",
    readyNodes: ["worker-2"],
  });

  await fx.publishService(
    serviceResource("a", "shop", "web", {
      ports: [
        { name: "https", protocol: "TCP", port: 443, nodePort: 31443 },
        { name: "grpc", protocol: "TCP", port: 9000, nodePort: 31900, appProtocol: "grpc" },
      ],
    }),
  );
  web = await waitForAllocation(fx, "a/shop/web", (a) => a.state === "Allocated");
  await fx.publishService(
    serviceResource("a", "shop", "dns", {
      externalTrafficPolicy: "Local",
      healthCheckNodePort: 32000,
      ports: [
        { name: "dns-tcp", protocol: "TCP", port: 53, nodePort: 30053 },
        { name: "dns-udp", protocol: "UDP", port: 53, nodePort: 30054 },
      ],
    }),
  );
  dns = await waitForAllocation(fx, "a/shop/dns", (a) => a.state === "Allocated");
  // Pinned to the IP where 443 is already taken: Pending until web lets go of it.
  await fx.publishService(
    serviceResource("b", "shop", "web2", {
      ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 32443 }],
      annotations: { "sharedlb.io/ip": web.ip },
    }),
  );
  await waitForAllocation(fx, "b/shop/web2", (a) => a.state === "Pending");
  await fx.publishService(serviceResource("b", "shop", "lost", { annotations: { "sharedlb.io/pool": "nope" } }));
  await waitForAllocation(fx, "b/shop/lost", (a) => a.state === "Failed");

  await publish(
    subjects.status("a", "shop", "web"),
    "io.sharedlb.status.v1",
    "a/shop/web",
    {
      cluster: "a",
      namespace: "shop",
      name: "web",
      kind: "Service",
      outcome: "Written",
      ip: web.ip,
      ports: web.ports,
      condition: { type: "sharedlb.io/Allocated", status: "True", reason: "Allocated", message: "" },
    },
    "sharedlb/status-reporter/a",
  );
  const xds = (event: "connect" | "ack" | "nack", typeUrl?: string, version?: string, error?: string) =>
    publish(
      subjects.xds("edge", "envoy-1"),
      "io.sharedlb.xds.v1",
      "edge/envoy-1",
      {
        fleet: "edge",
        node: "envoy-1",
        event,
        stream: "sotw",
        replica: "gw-0",
        ...(typeUrl ? { typeUrl } : {}),
        ...(version ? { version } : {}),
        ...(error ? { errorDetail: { code: 3, message: error } } : {}),
      },
      "sharedlb/xds-gateway/gw-0",
    );
  await xds("connect");
  await xds("ack", "type.googleapis.com/envoy.config.listener.v3.Listener", "abc123");
  await xds("nack", "type.googleapis.com/envoy.config.cluster.v3.Cluster", "def456", "cluster a/shop/web/tcp-443: bad");

  const dir = mkdtempSync(join(tmpdir(), "sharedlb-cli-"));
  fleetFile = join(dir, "fleets.yaml");
  writeFileSync(fleetFile, "fleets:\n  - name: edge\n    pools: [public]\n  - name: other\n    pools: [small]\n");
  // LB_HISTORY sources the resource and allocation streams asynchronously; the trail is
  // complete once it holds the last resource event and the last allocation published above.
  await waitFor("LB_HISTORY to catch up", async () => {
    const r = await runCli(["events", "--json", "--nats-url", nats.url, "--subject", "lb.*.b.>"]);
    return (
      r.stdout.includes('"natsSubject":"lb.allocation.b.shop.lost"') && r.stdout.includes('"natsSubject":"lb.resource.b.service.shop.lost"')
    );
  });
}, 120_000);

afterAll(async () => {
  await allocator?.stop();
  await fx?.close();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
});

describe("sharedlb status", () => {
  it("prints Services and ports per pool and IP, and Pending/Failed per pool", async () => {
    const r = await runCli(["status", "--nats-url", nats.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // web (2 TCP ports) and dns (53/TCP + 53/UDP) share one IP: tenant a is packed.
    expect(dns.ip).toBe(web.ip);
    const ipLine = r.stdout.split("\n").find((l) => l.includes(web.ip));
    expect(ipLine?.split(/\s+/)).toEqual(["public", web.ip, "2", "4", "3", "1", "1"]);
    expect(r.stdout).toMatch(/POOL\s+IPS\s+ALLOCATED\s+PORTS\s+PENDING\s+FAILED\s+RELEASED/);
    expect(r.stdout).toMatch(/b\/shop\/web2\s+Pending\s+\S+\s+PortUnavailable/);
    expect(r.stdout).toMatch(/b\/shop\/lost\s+Failed\s+\S+\s+UnknownPool/);
    expect(r.stdout).not.toContain("\u001b[");
  });

  it("--json gives the same figures", async () => {
    const r = await runCli(["status", "--json", "--nats-url", nats.url]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const pub = report.pools.find((p: { pool: string }) => p.pool === "public");
    expect(pub.ips).toEqual([{ ip: web.ip, services: 2, ports: 4, tcpPorts: 3, udpPorts: 1, clusters: 1 }]);
    expect(pub.allocated).toBe(2);
    expect(report.totals).toMatchObject({ services: 4, allocated: 2, pending: 1, failed: 1, ips: 1, ports: 4 });
    expect(report.notServed.map((n: { service: string; state: string; reason: string }) => [n.service, n.state, n.reason])).toEqual([
      ["b/shop/lost", "Failed", "UnknownPool"],
      ["b/shop/web2", "Pending", "PortUnavailable"],
    ]);
  });
});

describe("sharedlb explain", () => {
  it("explains an Allocated Service: slots, serving nodes (Local policy), status report", async () => {
    const r = await runCli(["explain", "a/shop/dns", "--nats-url", nats.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/State:\s+Allocated/);
    expect(r.stdout).toContain(`dns-tcp 53/TCP → ${dns.ip}:53  nodePort 30053  listener tcp-${dns.ip}-53`);
    expect(r.stdout).toContain(`dns-udp 53/UDP → ${dns.ip}:53  nodePort 30054  listener udp-${dns.ip}-53`);
    expect(r.stdout).toContain("externalTrafficPolicy Local");
    expect(r.stdout).toContain("1 of 4 serve it");
    expect(r.stdout).toContain("✓ worker-2 10.0.0.2");
    expect(r.stdout).toContain("✗ worker-1: no ready endpoint of the Service (externalTrafficPolicy: Local)");
    expect(r.stdout).toContain("✗ worker-3: not ready");
    expect(r.stdout).toContain("✗ worker-4.example.com: excluded from external load balancers");

    const j = JSON.parse((await runCli(["explain", "a/shop/web", "--json", "--nats-url", nats.url])).stdout);
    expect(j).toMatchObject({ service: "a/shop/web", state: "Allocated", pool: "public", ip: web.ip, externalTrafficPolicy: "Cluster" });
    expect(j.ports).toEqual([
      { name: "https", protocol: "TCP", port: 443, externalPort: 443, nodePort: 31443, listener: `tcp-${web.ip}-443` },
      { name: "grpc", protocol: "TCP", port: 9000, externalPort: 9000, nodePort: 31900, listener: `tcp-${web.ip}-9000` },
    ]);
    expect(j.nodes.serving).toEqual([
      { node: "worker-1", address: "10.0.0.1" },
      { node: "worker-2", address: "10.0.0.2" },
    ]);
    expect(j.nodes.notServing.map((n: { node: string }) => n.node)).toEqual(["worker-3", "worker-4.example.com"]);
    expect(j.status).toMatchObject({ outcome: "Written", condition: "sharedlb.io/Allocated=True (Allocated)" });
    expect(j.notes).toEqual([]);
  });

  it("applies the gateway's node address policy from --fleet-config, and says why a node is refused", async () => {
    const restricted = join(mkdtempSync(join(tmpdir(), "sharedlb-cli-policy-")), "fleets.yaml");
    writeFileSync(restricted, "fleets: [{ name: edge, pools: [public] }]\nnodeAddresses:\n  allowedCidrs:\n    a: [10.0.0.2/32]\n");
    const j = JSON.parse((await runCli(["explain", "a/shop/web", "--json", "--fleet-config", restricted, "--nats-url", nats.url])).stdout);
    expect(j.nodes.serving).toEqual([{ node: "worker-2", address: "10.0.0.2" }]);
    expect(j.nodes.notServing.find((n: { node: string }) => n.node === "worker-1")).toEqual({
      node: "worker-1",
      reason: "AddressRefused",
      why: 'address 10.0.0.1 is outside the ranges allowed for cluster "a" (10.0.0.2/32)',
    });
    const text = (await runCli(["explain", "a/shop/web", "--nats-url", nats.url], { SHAREDLB_FLEET_CONFIG: restricted })).stdout;
    expect(text).toContain('✗ worker-1: address 10.0.0.1 is outside the ranges allowed for cluster "a" (10.0.0.2/32) (AddressRefused)');
    // The address is checked first: a node that could never serve says so even while NotReady.
    expect(text).toContain("✗ worker-3: address 10.0.0.3 is outside the ranges allowed");
    // `sharedlb xds` plans with the same policy: worker-1 is in no endpoint list.
    const xds = JSON.parse((await runCli(["xds", "edge", "--json", "--fleet-config", restricted, "--nats-url", nats.url])).stdout);
    const endpoints = xds.listeners.flatMap((l: { endpoints: string[] }) => l.endpoints);
    expect(endpoints.length).toBeGreaterThan(0);
    expect(endpoints.filter((e: string) => e.startsWith("10.0.0.1:"))).toEqual([]);
  });

  it("explains a Pending Service with its reason and message", async () => {
    const r = await runCli(["explain", "b/shop/web2", "--nats-url", nats.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/State:\s+Pending/);
    expect(r.stdout).toMatch(/Reason:\s+PortUnavailable/);
    expect(r.stdout).toContain(`443/TCP is taken on ${web.ip}`);
    expect(r.stdout).not.toContain("Slots:");
    // Cluster b has published no node: nothing could serve it even once allocated.
    expect(r.stdout).toMatch(/Nodes:\s+none until allocated \(0 of 0 eligible\)/);
    const j = JSON.parse((await runCli(["explain", "b/shop/web2", "--json", "--nats-url", nats.url])).stdout);
    expect(j).toMatchObject({ state: "Pending", reason: "PortUnavailable", ip: "", ports: [] });
    expect(j.message).toContain("443/TCP");
  });

  it("fails with exit code 1 and a clear message for an unknown Service", async () => {
    const r = await runCli(["explain", "a/shop/nope", "--nats-url", nats.url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^sharedlb: unknown Service a\/shop\/nope: no resource event .* and no allocation/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    const j = await runCli(["explain", "a/shop/nope", "--json", "--nats-url", nats.url]);
    expect(j.code).toBe(1);
    expect(j.stderr).toContain("unknown Service a/shop/nope");
  });

  it("rejects a malformed key as a usage error (exit code 2)", async () => {
    const r = await runCli(["explain", "web", "--nats-url", nats.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is not of the form <cluster>/<namespace>/<name>");
  });
});

describe("sharedlb events", () => {
  it("prints the audit trail from LB_HISTORY and LB_EVENTS, merged by time", async () => {
    const r = await runCli(["events", "--since", "1h", "--nats-url", nats.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    const times = lines.map((l) => l.split(/\s+/)[0] ?? "");
    expect([...times].sort()).toEqual(times);
    expect(lines.some((l) => /^\S+\s+node\s+a\/\/worker-3\s+Node worker-3 10\.0\.0\.3 not ready$/.test(l))).toBe(true);
    expect(
      lines.some((l) =>
        new RegExp(`allocation\\s+a/shop/web\\s+Allocated public ${web.ip.replaceAll(".", "\\.")} 443/TCP→443,9000/TCP→9000$`).test(l),
      ),
    ).toBe(true);
    expect(lines.some((l) => /allocation\s+b\/shop\/web2\s+Pending .*PortUnavailable/.test(l))).toBe(true);
    expect(lines.some((l) => /status\s+a\/shop\/web\s+Written Service .* sharedlb\.io\/Allocated=True/.test(l))).toBe(true);
    expect(
      lines.some((l) => /xds\s+edge\/envoy-1\s+nack Cluster vdef456 node envoy-1 .*: cluster a\/shop\/web\/tcp-443: bad/.test(l)),
    ).toBe(true);
    // Each resource event comes before the allocation made from it.
    const svcLine = lines.findIndex((l) => /service\s+a\/shop\/web\s/.test(l));
    const allocLine = lines.findIndex((l) => /allocation\s+a\/shop\/web\s/.test(l));
    expect(svcLine).toBeGreaterThanOrEqual(0);
    expect(allocLine).toBeGreaterThan(svcLine);
  });

  it("--json prints one record per line with the event data; --subject filters", async () => {
    const r = await runCli(["events", "--json", "--subject", "lb.allocation.>", "--nats-url", nats.url]);
    expect(r.code).toBe(0);
    const records = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(records.map((x) => x.subject)).toEqual(["a/shop/web", "a/shop/dns", "b/shop/web2", "b/shop/lost"]);
    expect(records[0]).toMatchObject({
      type: "allocation",
      eventType: "io.sharedlb.allocation.v1",
      stream: "LB_HISTORY",
      natsSubject: "lb.allocation.a.shop.web",
    });
    expect(records[0].data).toMatchObject({ state: "Allocated", ip: web.ip });
  });

  it("--since excludes older events", async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const r = await runCli(["events", "--since", future, "--nats-url", nats.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    const bad = await runCli(["events", "--since", "yesterday", "--nats-url", nats.url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since "yesterday"');
  });

  it("--follow prints the history, then new events live, until interrupted", async () => {
    const p = startProcess(
      process.execPath,
      [CLI, "events", "--follow", "--json", "--subject", "lb.resource.a.>", "--nats-url", nats.url],
      { NO_COLOR: "" },
    );
    try {
      await p.waitForOutput(/"subject":"a\/shop\/dns"/, 20_000);
      await fx.publishService(
        serviceResource("a", "shop", "live", { ports: [{ name: "http", protocol: "TCP", port: 8080, nodePort: 30880 }] }),
      );
      await p.waitForOutput(/"subject":"a\/shop\/live"/, 20_000);
      expect(p.output()).not.toMatch(/lb\.allocation/);
      p.child.kill("SIGINT");
      expect(await p.exited).toBe(0);
      const lines = p
        .output()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      // Nothing printed twice although the live subscription overlapped the replay.
      const ids = lines.map((l) => l.id);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await p.stop();
    }
    await waitForAllocation(fx, "a/shop/live", (a) => a.state === "Allocated");
  });
});

describe("sharedlb xds", () => {
  it("shows the listeners, clusters and endpoints a fleet is served, and its Envoy nodes", async () => {
    const r = await runCli(["xds", "edge", "--fleet-config", fleetFile, "--nats-url", nats.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const row = (listener: string) =>
      r.stdout
        .split("\n")
        .find((l) => l.startsWith(`${listener} `))
        ?.trim()
        .split(/\s+/);
    expect(row(`tcp-${web.ip}-443`)).toEqual([
      `tcp-${web.ip}-443`,
      "a/shop/web:443",
      "a/shop/web/tcp-443",
      "10.0.0.1:31443",
      "10.0.0.2:31443",
    ]);
    expect(row(`tcp-${dns.ip}-53`)).toEqual([`tcp-${dns.ip}-53`, "a/shop/dns:53", "a/shop/dns/tcp-53", "10.0.0.2:30053"]);
    expect(row(`udp-${dns.ip}-53`)).toEqual([`udp-${dns.ip}-53`, "a/shop/dns:53", "a/shop/dns/udp-53", "10.0.0.2:30054"]);
    expect(row("xds:///grpc.web.shop.a")).toEqual([
      "xds:///grpc.web.shop.a",
      "a/shop/web:9000",
      "a/shop/web/tcp-9000",
      "10.0.0.1:31900",
      "10.0.0.2:31900",
    ]);
    // Without --node, each node's last event only.
    expect(r.stdout).toMatch(/envoy-1\s+Cluster\s+nack\s+def456\s+\S+\s+cluster a\/shop\/web\/tcp-443: bad/);
    expect(r.stdout).toContain("pools: public");
  });

  it("--json and --node give each type's last ACK/NACK", async () => {
    const r = await runCli(["xds", "edge", "--pool", "public", "--node", "envoy-1", "--json", "--nats-url", nats.url]);
    expect(r.code).toBe(0);
    const c = JSON.parse(r.stdout);
    expect(c).toMatchObject({ fleet: "edge", pools: ["public"], derivedFrom: "xds-gateway-plans", nodesDetail: "per-type" });
    expect(c.listeners.map((l: { name: string }) => l.name)).toEqual([
      `tcp-${web.ip}-53`,
      `tcp-${web.ip}-443`,
      `tcp-${web.ip}-8080`,
      `tcp-${web.ip}-9000`,
      `udp-${web.ip}-53`,
      "grpc.web.shop.a",
    ]);
    expect(c.nodes).toEqual([
      {
        node: "envoy-1",
        lastEvent: "nack",
        lastTime: expect.any(String),
        lastByType: [
          { typeUrl: "stream", event: "connect", version: "", time: expect.any(String) },
          {
            typeUrl: "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            event: "nack",
            version: "def456",
            time: expect.any(String),
            error: "cluster a/shop/web/tcp-443: bad",
          },
          { typeUrl: "type.googleapis.com/envoy.config.listener.v3.Listener", event: "ack", version: "abc123", time: expect.any(String) },
        ],
      },
    ]);
  });

  it("serves nothing to a fleet whose pools hold no allocation, and names a fleet missing from the file", async () => {
    const other = JSON.parse((await runCli(["xds", "other", "--fleet-config", fleetFile, "--json", "--nats-url", nats.url])).stdout);
    expect(other).toMatchObject({ fleet: "other", pools: ["small"], listeners: [], nodes: [] });
    const missing = await runCli(["xds", "nowhere", "--fleet-config", fleetFile, "--nats-url", nats.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('fleet "nowhere" is not in the fleet file (fleets: edge, other)');
    const noPools = await runCli(["xds", "edge", "--nats-url", nats.url]);
    expect(noPools.code).toBe(2);
    expect(noPools.stderr).toContain("--fleet-config");
  });

  it("refuses a fleet file the gateway refuses: two fleets serving one pool with different health checks", async () => {
    const conflicting = join(mkdtempSync(join(tmpdir(), "sharedlb-cli-checks-")), "fleets.yaml");
    writeFileSync(conflicting, "fleets:\n  - { name: edge, pools: [public], healthChecks: kubeProxy }\n  - { name: backup, pools: [public], healthChecks: tcp }\n");
    for (const cmd of [["xds", "edge"], ["explain", "a/shop/web"]]) {
      const r = await runCli([...cmd, "--fleet-config", conflicting, "--nats-url", nats.url]);
      expect(r.code, cmd.join(" ")).toBe(1);
      expect(r.stderr).toContain(`${conflicting}: fleets "edge" and "backup" both serve pool "public" with different health checks`);
    }
    // Its own entry under pools settles it, as it does for the gateway.
    writeFileSync(
      conflicting,
      "fleets:\n  - { name: edge, pools: [public], healthChecks: kubeProxy }\n  - { name: backup, pools: [public], healthChecks: tcp }\npools:\n  public: { healthChecks: kubeProxy }\n",
    );
    const settled = await runCli(["xds", "edge", "--json", "--fleet-config", conflicting, "--nats-url", nats.url]);
    expect(settled.stderr).toBe("");
    expect(JSON.parse(settled.stdout).listeners.map((l: { name: string }) => l.name)).toContain(`tcp-${web.ip}-443`);
  });
});

describe("errors and help", () => {
  it("names the URL, exits 1 and prints no stack trace when NATS is down", async () => {
    const port = await freePort();
    for (const cmd of [["status"], ["explain", "a/shop/web"], ["events"], ["xds", "edge", "--pool", "public"]]) {
      const r = await runCli([...cmd, "--nats-url", `nats://operator:s3cret@127.0.0.1:${port}`]);
      expect(r.code, cmd.join(" ")).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        `sharedlb: cannot connect to NATS at nats://[redacted]@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (set --nats-url or NATS_URL)\n`,
      );
    }
    const viaEnv = await runCli(["status", "--json"], { NATS_URL: `nats://127.0.0.1:${port}` });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toContain(`nats://127.0.0.1:${port}`);
  });

  it("has --help per command and rejects unknown flags", async () => {
    for (const cmd of ["status", "explain", "events", "xds"]) {
      const r = await runCli([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: sharedlb ${cmd}`));
      expect(r.stdout).toContain("--nats-url");
    }
    const root = await runCli(["--help"]);
    expect(root.stdout).toMatch(/Commands:\n\s+status/);
    const bad = await runCli(["status", "--bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--bogus");
  });
});

describe("sharedlb explain and status for Layer 7", () => {
  // Its own NATS, so the L4 cases above see exactly the messages they published. The
  // messages are what the watcher, allocator and xds-gateway publish for one Gateway with
  // an HTTPRoute (tenant b), and for tenant c's Gateway refused the same hostname.
  let l7nats: TestNats;
  let l7fx: NatsFixture;
  const IP = "203.0.113.10";
  const listener = (over: Partial<ListenerAllocation>) => listenerAllocation({ ip: IP, claimedHostnames: ["blog.example.org"], ...over });
  const gatewayAlloc = (cluster: string, over: Partial<L7Allocation>) =>
    l7Allocation("gateway", `${cluster}/blog/gw`, [listener({})], { uid: `${cluster}-gw`, ...over });
  const route: RouteResource = {
    cluster: "b",
    namespace: "blog",
    name: "posts.v1",
    uid: "b-posts",
    generation: 4,
    sourceKind: "HTTPRoute",
    parentRefs: [{ namespace: "blog", name: "gw" }],
    hostnames: ["blog.example.org"],
    rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], filters: [], backends: [] }],
    refusedRefs: [
      {
        field: "spec.rules[0].backendRefs[0]",
        group: "",
        kind: "Service",
        namespace: "blog",
        name: "gone",
        reason: "BackendNotFound",
        message: "Service blog/gone does not exist",
      },
    ],
    annotations: {},
  };
  const nackText = "Error adding/updating listener(s) http-203.0.113.10-80: route: invalid regex";

  beforeAll(async () => {
    l7nats = await startNats();
    l7fx = await natsFixture(l7nats.url);
    const put = <T extends EventType>(natsSubject: string, type: T, subject: string, data: EventData<T>) =>
      publishEvent(l7fx.js, natsSubject, makeEvent({ type, source, subject, data }));
    await put(subjects.l7Allocation("b", "blog", "gw", "gateway"), "io.sharedlb.l7allocation.v1", "b/blog/gw", gatewayAlloc("b", {}));
    await put(
      subjects.l7Allocation("c", "blog", "gw", "gateway"),
      "io.sharedlb.l7allocation.v1",
      "c/blog/gw",
      gatewayAlloc("c", {
        state: "Pending",
        reason: "HostnameConflict",
        message: "blog.example.org is taken on this IP and port",
        listeners: [
          listener({
            state: "Pending",
            ip: "",
            port: 0,
            claimedHostnames: [],
            reason: "HostnameConflict",
            refusedHostnames: [
              { hostname: "blog.example.org", reason: "HostnameConflict", message: "blog.example.org is taken on this IP and port" },
            ],
          }),
        ],
      }),
    );
    await put(subjects.l7Resource("b", "httproute", "blog", route.name), "io.sharedlb.route.v1", "b/blog/posts.v1", route);
    await put(subjects.programmed("b", "blog", route.name, "httproute"), "io.sharedlb.programmed.v1", "b/blog/posts.v1", {
      cluster: "b",
      namespace: "blog",
      name: route.name,
      kind: "httproute",
      allocationVersion: 4,
      fleet: "edge",
      acked: 1,
      nacked: 1,
      pending: 0,
      errorDetail: { typeUrl: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration", node: "envoy-1", message: nackText },
    });
  });

  afterAll(async () => {
    await l7fx?.close();
    await l7nats?.dispose();
  });

  it("status lists the hostnames per shared IP and port, and the Gateway refused one", async () => {
    const r = await runCli(["status", "--nats-url", l7nats.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`public\\s+${IP.replaceAll(".", "\\.")}\\s+80/HTTP\\s+shared\\s+blog\\.example\\.org\\s+b\\s+gateway blog/gw`),
    );
    expect(r.stdout).toMatch(/gateway c\/blog\/gw\s+Pending\s+HostnameConflict\s+blog\.example\.org \(HostnameConflict\)/);
    const j = JSON.parse((await runCli(["status", "--json", "--nats-url", l7nats.url])).stdout);
    expect(j.l7.slots).toEqual([
      {
        pool: "public",
        ip: IP,
        port: 80,
        protocol: "HTTP",
        shared: true,
        hostnames: [{ hostname: "blog.example.org", cluster: "b", object: "gateway blog/gw" }],
      },
    ]);
  });

  it("explain httproute: the listener and hostname it is served under, refused refs, Programmed False with Envoy's text", async () => {
    const r = await runCli(["explain", "httproute", "b/blog/posts.v1", "--nats-url", l7nats.url]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/State:\s+Attached/);
    expect(r.stdout).toContain(`blog/gw web HTTP ${IP}:80 shared  blog.example.org  listener http-${IP}-80`);
    expect(r.stdout).toContain("spec.rules[0].backendRefs[0]: Service blog/gone BackendNotFound");
    expect(r.stdout).toContain(`Programmed: False — 1 Envoy(s) of fleet edge rejected generation 4: ${nackText}`);
    const j = JSON.parse((await runCli(["explain", "httproute", "b/blog/posts.v1", "--json", "--nats-url", l7nats.url])).stdout);
    expect(j.programmed).toMatchObject({ status: "False", error: { node: "envoy-1", message: nackText } });
  });

  it("explain gateway: a hostname refused with HostnameConflict; unknown objects and kinds are clear errors", async () => {
    const r = await runCli(["explain", "gateway", "c/blog/gw", "--nats-url", l7nats.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/State:\s+Pending/);
    expect(r.stdout).toContain("✗ blog.example.org: HostnameConflict — blog.example.org is taken on this IP and port");
    const missing = await runCli(["explain", "ingress", "b/blog/nope", "--nats-url", l7nats.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("unknown ingress b/blog/nope");
    const badKind = await runCli(["explain", "tcproute", "b/blog/gw", "--nats-url", l7nats.url]);
    expect(badKind.code).toBe(2);
    expect(badKind.stderr).toContain('unknown kind "tcproute"');
  });
});
