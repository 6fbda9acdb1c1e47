import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { AckPolicy } from "@nats-io/jetstream";
import { decodeAllocationMessage, filters, makeEvent, STREAM_NAMES, subjects } from "@sharedlb/contracts";
import { connectNats, createRootLogger, type NatsHandle, publishEvent, readLastValues } from "@sharedlb/runtime";
import { type ManagedProcess, serviceResource, startNats, startProcess, startRedis, type TestNats, type TestRedis, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUserNkey, publicKeyOfSeed } from "../../../../cli/src/adapters/nkeys.js";
import { parseIdentities } from "../../../../cli/src/domain/tenant-registry.js";
import { renderNatsAuthorization } from "../../../../cli/src/domain/nats-authorization.js";
import { ALLOCATOR_MAIN } from "../../../../services/allocator/src/test-support/allocator-process.js";
import { type GatewayProcess, startGateway, writeFleetFile } from "../../../../services/xds-gateway/src/test-support/gateway-process.js";
import { compose, composeConfig, onHost, REPO_ROOT, runComposeCerts } from "./compose.js";

// docker-compose.yml's NATS run for real: nats-server with exactly compose's nats.conf and the
// nats-auth.conf it includes, with the certificates compose's `certs` script makes. The
// allocator and the xds-gateway run with compose's NATS settings (paths mapped from the
// container to this machine, host names to localhost), tenant "demo" with its committed dev
// identity, the way its watcher and status-reporter connect.

const dir = mkdtempSync(join(tmpdir(), "sharedlb-compose-nats-"));
const silent = createRootLogger("compose-nats", "silent");
const natsService = compose.services.nats;
const allocatorEnv = compose.services.allocator?.environment ?? {};
const gatewayEnv = compose.services["xds-gateway"]?.environment ?? {};
const caFile = onHost(dir, allocatorEnv.NATS_CA);
const DEMO_SEED = join(REPO_ROOT, "deploy/compose/dev-identities/demo.nk");
const CLI_SEED = join(REPO_ROOT, "deploy/compose/dev-identities/cli.nk");
const GATEWAY_SEED = join(REPO_ROOT, "deploy/compose/dev-identities/gateway.nk");
const tenant = (seed: string, cluster: string) => ({ nkeyFile: seed, caFile, inboxPrefix: `_INBOX_${cluster}` });
let nats: TestNats;
let redis: TestRedis;
let url: string;
let allocator: ManagedProcess;
let gateway: GatewayProcess;
let demo: NatsHandle;
let cli: NatsHandle;
let gatewayId: NatsHandle;

/** The nats service's command line minus what the harness sets itself (port, store, monitoring, name). */
function composeNatsFlags(): string[] {
  const topology = new Set(["--jetstream", "--store_dir", "--http_port", "--server_name"]);
  const out: string[] = [];
  const cmd = natsService?.command ?? [];
  for (let i = 1; i < cmd.length; i++) {
    const flag = cmd[i] ?? "";
    if (topology.has(flag)) {
      if (flag !== "--jetstream") i++;
    } else out.push(flag);
  }
  return out;
}

beforeAll(async () => {
  runComposeCerts(dir);
  const [confFlag, confTarget] = composeNatsFlags();
  expect(confFlag).toBe("--config");
  const targets = (natsService as { configs?: { source: string; target: string }[] } | undefined)?.configs ?? [];
  const conf = targets.find((c) => c.target === confTarget);
  const included = targets.filter((c) => c !== conf && dirname(c.target) === dirname(confTarget ?? ""));
  nats = await startNats({
    config: composeConfig(conf?.source ?? "").replaceAll("/certs/", `${dir}/`),
    files: Object.fromEntries(included.map((c) => [basename(c.target), composeConfig(c.source)])),
    scheme: "tls",
  });
  // The NATS certificate names nats and localhost, as compose's network and its host reach it.
  url = nats.url.replace("127.0.0.1", "localhost");

  const password = "compose-redis-password";
  redis = await startRedis({
    password,
    tls: { certFile: join(dir, "redis.crt"), keyFile: join(dir, "redis.key"), caFile: join(dir, "internal-ca.crt") },
  });
  const pools = join(dir, "pools.yaml");
  writeFileSync(pools, composeConfig("pools"));
  allocator = startProcess(process.execPath, [ALLOCATOR_MAIN], {
    ...Object.fromEntries(Object.entries(allocatorEnv).map(([k, v]) => [k, onHost(dir, v)])),
    NATS_URL: url,
    REDIS_URL: `rediss://localhost:${new URL(redis.url).port}`,
    SHAREDLB_REDIS_PASSWORD: password,
    HTTP_ADDR: "127.0.0.1:0",
    SHAREDLB_CONFIG: pools,
  });
  await allocator.waitForOutput(/allocator started/, 60_000);
  gateway = await startGateway(url, writeFleetFile(composeConfig("fleets")), "gw-compose", [
    "--nats-nkey", onHost(dir, gatewayEnv.NATS_NKEY),
    "--nats-ca", onHost(dir, gatewayEnv.NATS_CA),
    "--ads-insecure",
  ]);
  demo = await connectNats(url, "demo", silent, tenant(DEMO_SEED, "demo"));
  cli = await connectNats(url, "cli", silent, { nkeyFile: CLI_SEED, caFile });
  gatewayId = await connectNats(url, "gateway-identity", silent, { nkeyFile: GATEWAY_SEED, caFile });
});

afterAll(async () => {
  await demo?.nc.close();
  await cli?.nc.close();
  await gatewayId?.nc.close();
  await gateway?.stop();
  await allocator?.stop();
  await redis?.stop();
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const refused = (what: string, op: () => Promise<unknown>) => expect(op(), what).rejects.toThrow();

describe("docker-compose.yml NATS", () => {
  it("has exactly the permission entries `sharedlb tenant` renders for its registry, and the registry's keys", () => {
    const registryFile = join(REPO_ROOT, "deploy/compose/nats-identities.json");
    const registry = parseIdentities(registryFile, readFileSync(registryFile, "utf8"));
    expect(composeConfig("nats-auth")).toBe(renderNatsAuthorization(registry));
    const seed = (f: string) => readFileSync(f, "utf8");
    expect(publicKeyOfSeed(seed(onHost(dir, allocatorEnv.NATS_NKEY)))).toBe(registry.lb?.allocator);
    expect(publicKeyOfSeed(seed(onHost(dir, gatewayEnv.NATS_NKEY)))).toBe(registry.lb?.gateway);
    expect(publicKeyOfSeed(seed(CLI_SEED))).toBe(registry.lb?.cli);
    expect(publicKeyOfSeed(seed(DEMO_SEED))).toBe(registry.tenants.demo);
    // Each service has its own identity.
    expect(new Set([allocatorEnv.NATS_NKEY, gatewayEnv.NATS_NKEY]).size).toBe(2);
  });

  it("refuses clients without a known identity", async () => {
    await expect(connectNats(url, "anonymous", silent, { caFile })).rejects.toThrow(/refused anonymous/);
    const stranger = join(dir, "stranger.nk");
    writeFileSync(stranger, `${createUserNkey().seed}\n`);
    await expect(connectNats(url, "stranger", silent, { nkeyFile: stranger, caFile })).rejects.toThrow(/refused nkey/);
    await expect(connectNats(url, "user", silent, { user: "allocator", password: "x", caFile })).rejects.toThrow(/refused user/);
  });

  it("runs the allocator and the gateway with their own identities, and tenant demo's flow with its own", async () => {
    expect(allocator.output()).not.toMatch(/permission|Authorization/i);
    expect(gateway.proc.output()).not.toMatch(/permission|Authorization/i);
    // Tenant demo publishes its Service as its watcher does and replays its allocations as its status-reporter does.
    // Compose's pool serves ports 1024-65535.
    const svc = serviceResource("demo", "shop", "web", { ports: [{ name: "http", protocol: "TCP", port: 8080, nodePort: 30080 }] });
    const ev = makeEvent({ type: "io.sharedlb.service.v1", source: "sharedlb/watcher/demo", subject: "demo/shop/web", data: svc });
    await publishEvent(demo.js, subjects.service("demo", "shop", "web"), ev);
    const allocation = await waitFor("demo/shop/web allocated", async () => {
      const all = await readLastValues(demo.js, demo.jsm, STREAM_NAMES.allocations, (subject, data) => [subject, decodeAllocationMessage(subject, data).data], filters.clusterAllocations("demo"));
      const a = all.get(subjects.allocation("demo", "shop", "web"));
      return a?.ip ? a : undefined;
    }, 30_000);
    expect(allocation.ip).toBe("172.30.0.10");
    // The CLI reads what everyone published.
    const info = await cli.jsm.streams.info(STREAM_NAMES.allocations, { subjects_filter: ">" });
    expect(Object.keys(info.state.subjects ?? {})).toContain(subjects.allocation("demo", "shop", "web"));
  });

  it("keeps tenant demo to its own cluster, and the CLI read-only", async () => {
    const other = serviceResource("other", "bank", "vault");
    const ev = makeEvent({ type: "io.sharedlb.service.v1", source: "sharedlb/watcher/demo", subject: "other/bank/vault", data: other });
    await refused("demo publishes other's Service", () => publishEvent(demo.js, subjects.service("other", "bank", "vault"), ev));
    await refused("demo forges an allocation", () => demo.js.publish(subjects.allocation("demo", "shop", "web"), "{}"));
    await refused("demo reads other's allocations", () =>
      demo.jsm.consumers.add(STREAM_NAMES.allocations, { name: "steal", filter_subject: "lb.allocation.other.>", ack_policy: AckPolicy.None }),
    );
    await refused("demo lists subjects", () => demo.jsm.streams.info(STREAM_NAMES.resources, { subjects_filter: ">" }));
    await refused("demo purges", () => demo.jsm.streams.purge(STREAM_NAMES.allocations));
    const sub = demo.nc.subscribe("lb.allocation.other.>");
    const closed = await Promise.race([sub.closed, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined))]);
    expect(String(closed)).toMatch(/permission/i);
    await refused("the CLI publishes", () => cli.js.publish(subjects.service("demo", "shop", "web"), "{}"));
    await refused("the CLI purges", () => cli.jsm.streams.purge(STREAM_NAMES.resources));
  });

  it("gives the xds-gateway's identity only its own reports: no forged resources or allocations, no purge or delete", async () => {
    const forged = serviceResource("demo", "shop", "web");
    const ev = makeEvent({ type: "io.sharedlb.service.v1", source: "sharedlb/watcher/demo", subject: "demo/shop/web", data: forged });
    await refused("the gateway publishes a Service", () => publishEvent(gatewayId.js, subjects.service("demo", "shop", "web"), ev));
    await refused("the gateway forges an allocation", () => gatewayId.js.publish(subjects.allocation("demo", "shop", "web"), "{}"));
    await refused("the gateway purges", () => gatewayId.jsm.streams.purge(STREAM_NAMES.allocations));
    await refused("the gateway deletes a stream", () => gatewayId.jsm.streams.delete(STREAM_NAMES.resources));
    await refused("the gateway deletes the allocator's durable", () => gatewayId.jsm.consumers.delete(STREAM_NAMES.resources, "allocator"));
    // The streams are still there, and what the gateway needs works: reading last values.
    expect((await cli.jsm.streams.info(STREAM_NAMES.allocations)).config.name).toBe(STREAM_NAMES.allocations);
    const held = await readLastValues(gatewayId.js, gatewayId.jsm, STREAM_NAMES.allocations, (subject) => [subject, subject], filters.clusterAllocations("demo"));
    expect(held.size).toBeGreaterThan(0);
  });
});
