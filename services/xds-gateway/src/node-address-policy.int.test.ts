import type { NatsConnection } from "@nats-io/nats-core";
import { ENDPOINT_TYPE, type envoy, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams } from "@sharedlb/runtime";
import { clusterName } from "@sharedlb/serving";
import { startNats, startProcess, type TestNats, waitFor } from "@sharedlb/testing";
import { allocation, node, service } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeltaEnvoy, decodeAs, SotwEnvoy } from "./test-support/fake-envoy.js";
import { type GatewayProcess, MAIN, metricValue, startGateway, writeFleetFile } from "./test-support/gateway-process.js";
import { Publisher } from "./test-support/publisher.js";

type Cla = envoy.config.endpoint.v3.ClusterLoadAssignment;

// Tenants publish their nodes' addresses; the fleet must never be aimed at its own host
// (Envoy's admin on 127.0.0.1:9901), a metadata service, the LB cluster's own ranges or,
// where the operator restricts a cluster, anything outside its ranges.
const FLEETS = writeFleetFile(
  [
    "fleets:",
    "  - { name: edge, pools: [public] }",
    "nodeAddresses:",
    "  lbClusterCidrs: [10.96.0.0/12]",
    "  allowedCidrs:",
    "    a: [10.0.0.0/16]",
    "",
  ].join("\n"),
);

const REFUSED_A = {
  self: "127.0.0.1",
  metadata: "169.254.169.254",
  unspecified: "0.0.0.0",
  outside: "10.1.0.5",
};
const NODES_A = [node("a", "good", "10.0.0.1"), ...Object.entries(REFUSED_A).map(([name, ip]) => node("a", name, ip))];
// Cluster b has no allowed ranges: only the built-in rules and the LB cluster's ranges apply.
const NODES_B = [node("b", "good", "192.168.0.1"), node("b", "lb-pod", "10.96.0.7"), node("b", "mapped", "::ffff:127.0.0.1")];
// Cluster c is changed live by its own test.
const NODES_C = [node("c", "good", "172.16.0.1"), node("c", "metadata", "169.254.169.254")];
const SERVICES = ["a", "b", "c"].map((cluster) => service(cluster, "shop", "web"));
const cla = (cluster: string) => clusterName(cluster, "shop", "web", "TCP", 80);
const NEVER_SERVED = new Set([...Object.values(REFUSED_A), "10.96.0.7", "::ffff:127.0.0.1", "169.254.169.254", "127.0.0.3"]);

const seen: Cla[] = [];
const record = (typeUrl: ResourceTypeUrl, items: readonly Uint8Array[]) => {
  if (typeUrl === ENDPOINT_TYPE) for (const b of items) seen.push(decodeAs(ENDPOINT_TYPE, b));
};

/** Fake Envoys that also record every ClusterLoadAssignment they receive, accepted or not. */
class WatchingSotwEnvoy extends SotwEnvoy {
  protected override validate(typeUrl: ResourceTypeUrl, items: readonly Uint8Array[], clusters: ReadonlySet<string>): void {
    record(typeUrl, items);
    super.validate(typeUrl, items, clusters);
  }
}
class WatchingDeltaEnvoy extends DeltaEnvoy {
  protected override validate(typeUrl: ResourceTypeUrl, items: readonly Uint8Array[], clusters: ReadonlySet<string>): void {
    record(typeUrl, items);
    super.validate(typeUrl, items, clusters);
  }
}

const addressesIn = (cla: Cla | undefined) =>
  (cla?.endpoints ?? []).flatMap((l) => (l.lbEndpoints ?? []).map((e) => e.endpoint?.address?.socketAddress?.address ?? "")).sort();

let nats: TestNats;
let nc: NatsConnection;
let pub: Publisher;
let gw: GatewayProcess;
const envoys: (SotwEnvoy | DeltaEnvoy)[] = [];

beforeAll(async () => {
  nats = await startNats();
  const conn = await connectNats(nats.url, "xds-policy-test", createRootLogger("test", "warn"));
  nc = conn.nc;
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, createRootLogger("test", "warn"));
  pub = new Publisher(conn.js);
  for (const n of [...NODES_A, ...NODES_B, ...NODES_C]) await pub.node(n);
  for (const [i, s] of SERVICES.entries()) {
    await pub.service(s);
    await pub.allocation(allocation(s, `203.0.113.${10 + i}`));
  }
  gw = await startGateway(nats.url, FLEETS, "gw-policy");
  envoys.push(
    new WatchingSotwEnvoy(gw.grpc, { id: "sotw", cluster: "edge" }).start(),
    new WatchingDeltaEnvoy(gw.grpc, { id: "delta", cluster: "edge" }).start(),
  );
});

afterAll(async () => {
  for (const e of envoys) e.close();
  await gw?.stop();
  await nc?.close();
  await nats?.dispose();
});

/** Waits until every fake Envoy holds exactly `addresses` in cluster `cluster`'s ClusterLoadAssignment. */
async function waitForEndpoints(cluster: string, addresses: string[]): Promise<void> {
  for (const e of envoys) {
    await waitFor(
      `${cluster} endpoints ${addresses.join()}`,
      () => addressesIn(e.resources(ENDPOINT_TYPE).get(cla(cluster))).join() === addresses.join(),
      30_000,
    );
  }
}

function refusalLogs(cluster: string): string[] {
  return gw.proc
    .output()
    .split("\n")
    .filter((l) => l.includes("tenant node not served"))
    .map((l) => JSON.parse(l) as { cluster: string; node: string; reason: string })
    .filter((o) => o.cluster === cluster)
    .map((o) => `${o.node}:${o.reason}`)
    .sort();
}

const servedEverywhere = () => seen.flatMap((c) => addressesIn(c));

describe("node address policy (gateway process, real NATS, raw ADS clients)", () => {
  it("never puts a loopback, link-local, unspecified, LB-cluster or not-allowed node address in any ClusterLoadAssignment", async () => {
    await waitForEndpoints("a", ["10.0.0.1"]);
    await waitForEndpoints("b", ["192.168.0.1"]);
    expect(servedEverywhere().filter((a) => NEVER_SERVED.has(a))).toEqual([]);
    expect(envoys.flatMap((e) => e.errors)).toEqual([]);
    // Logged once per node, with the reason.
    expect(refusalLogs("a")).toEqual(["metadata:LinkLocal", "outside:NotAllowed", "self:Loopback", "unspecified:Unspecified"]);
    expect(refusalLogs("b")).toEqual(["lb-pod:LbClusterRange", "mapped:Loopback"]);
    // Counted by reason (cluster c adds nothing to these two).
    const text = await gw.metrics();
    expect(metricValue(text, "sharedlb_xds_refused_nodes", { reason: "NotAllowed" })).toBe(1);
    expect(metricValue(text, "sharedlb_xds_refused_nodes", { reason: "LbClusterRange" })).toBe(1);
  });

  it("follows node changes: a node turning to loopback leaves, a refused node moving to a usable address joins", async () => {
    await waitForEndpoints("c", ["172.16.0.1"]);
    await pub.node(node("c", "good", "127.0.0.3"));
    await pub.node(node("c", "metadata", "172.16.0.2"));
    await waitForEndpoints("c", ["172.16.0.2"]);
    expect(servedEverywhere().filter((a) => NEVER_SERVED.has(a))).toEqual([]);
    expect(refusalLogs("c")).toEqual(["good:Loopback", "metadata:LinkLocal"]);
    expect(gw.proc.output()).toMatch(/"cluster":"c","node":"metadata","address":"172.16.0.2".*"tenant node address no longer refused"/);
    await waitFor(
      "gauge follows",
      async () => metricValue(await gw.metrics(), "sharedlb_xds_refused_nodes", { reason: "LinkLocal" }) === 1,
    );
  });

  it("exits 2 naming the entry when a configured range is not a CIDR", async () => {
    const bad = writeFleetFile("fleets: [{ name: edge, pools: [public] }]\nnodeAddresses:\n  allowedCidrs:\n    a: [10.0.0.0/40]\n");
    const p = startProcess(process.execPath, [MAIN, "--config", bad, "--nats-url", "nats://127.0.0.1:1"]);
    expect(await p.exited).toBe(2);
    expect(p.output()).toContain(`${bad}: nodeAddresses.allowedCidrs.a[0]`);
  });
});
