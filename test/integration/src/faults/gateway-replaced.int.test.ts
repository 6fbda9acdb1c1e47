import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import { connectNats, createRootLogger, ensureStreams, type NatsHandle } from "@sharedlb/runtime";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { allocation, node, service } from "@sharedlb/testing/resources";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DeltaEnvoy, type NodeIdentity, SotwEnvoy } from "../../../../services/xds-gateway/src/test-support/fake-envoy.js";
import { type GatewayProcess, startGateway, writeFleetFile } from "../../../../services/xds-gateway/src/test-support/gateway-process.js";
import { Publisher } from "../../../../services/xds-gateway/src/test-support/publisher.js";

// Fault matrix (issue 12): the xds-gateway an Envoy is attached to is killed (SIGKILL) in the
// middle of configuration changes, and a new replica takes its address, as a Deployment
// replaces a pod behind the gateway Service. The Envoys reconnect the way Envoy does (delta:
// initial_resource_versions; SotW: the versions they hold) and must converge to exactly what
// a fresh Envoy gets from the new replica: the same resources under the same versions (content
// hashes), nothing lost, nothing doubled, and what did not change is not sent again.

const C = "gw";
const FLEET = writeFleetFile("fleets: [{ name: edge, pools: [public] }]\n");
const TYPES: ResourceTypeUrl[] = [LISTENER_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE];
const ipOf = (i: number) => `203.0.113.${10 + (i % 5)}`;
const web = (i: number) => service(C, "ns", `web-${i}`, { ports: [{ name: "p", protocol: "TCP", port: 2000 + i, nodePort: 30000 + i }] });
const listenerOf = (i: number) => `tcp-${ipOf(i)}-${2000 + i}`;

let nats: TestNats;
let conn: NatsHandle;
let pub: Publisher;
const cleanup: (() => unknown)[] = [];

beforeAll(async () => {
  nats = await startNats();
  const log = createRootLogger("test", "warn");
  conn = await connectNats(nats.url, "faults-gateway", log);
  await ensureStreams(conn.jsm, { replicas: 1, storage: "file" }, log);
  pub = new Publisher(conn.js);
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
  await conn?.nc.close();
  await nats?.dispose();
});

const add = async (i: number) => {
  const s = web(i);
  await pub.service(s);
  await pub.allocation(allocation(s, ipOf(i)));
};
const remove = async (i: number) => {
  const s = web(i);
  await pub.allocation(allocation(s, "", { state: "Released", ports: [] }));
  await pub.tombstone("service", C, "ns", s.name, s.uid);
};

/** Name -> version of every resource a client holds, per type. */
const versions = (e: DeltaEnvoy | SotwEnvoy) =>
  Object.fromEntries(TYPES.map((t) => [t, Object.fromEntries([...(e.state.get(t) ?? [])].map(([n, h]) => [n, h.version]).sort())]));

const holds = (e: DeltaEnvoy | SotwEnvoy, listeners: string[]) =>
  e.names(LISTENER_TYPE).join() === [...listeners].sort().join() && e.names(ENDPOINT_TYPE).length === listeners.length;

/** Listener addresses held more than once (two listeners on one IP:port). */
function doubledAddresses(e: DeltaEnvoy | SotwEnvoy): string[] {
  const seen = new Map<string, number>();
  for (const l of e.resources(LISTENER_TYPE).values()) {
    const sa = l.address?.socketAddress;
    const a = `${sa?.address}:${sa?.portValue}`;
    seen.set(a, (seen.get(a) ?? 0) + 1);
  }
  return [...seen].filter(([, n]) => n > 1).map(([a]) => a);
}

/** Stops a gateway when the test ends (a killed one is already gone). */
const track = (g: GatewayProcess) => {
  cleanup.push(() => g.stop());
  return g;
};
const attach = <E extends DeltaEnvoy | SotwEnvoy>(e: E) => {
  cleanup.push(() => e.close());
  return e;
};

it("an xds-gateway replaced under attached ADS streams: the Envoys reconnect and converge to the same versions, nothing lost", async () => {
  await pub.node(node(C, "n1", "10.0.0.1"));
  await pub.node(node(C, "n2", "10.0.0.2"));
  const live = new Set<number>();
  for (let i = 0; i < 60; i++) {
    await add(i);
    live.add(i);
  }
  const a = track(await startGateway(nats.url, FLEET, "gw-a"));
  const id = (n: string): NodeIdentity => ({ id: n, cluster: "edge" });
  const delta = attach(new DeltaEnvoy(a.grpc, id("delta")).start());
  const sotw = attach(new SotwEnvoy(a.grpc, id("sotw")).start());
  const expected = () => [...live].map(listenerOf);
  await waitFor("both Envoys hold the first 60 Services", () => holds(delta, expected()) && holds(sotw, expected()), 30_000);
  const before = versions(delta);

  // Changes while the gateway dies: some before the kill (it may or may not have sent them),
  // the rest while no replica is up.
  for (let i = 60; i < 70; i++) {
    await add(i);
    live.add(i);
  }
  await a.proc.kill();
  const killedAt = performance.now();
  for (let i = 0; i < 10; i++) {
    await remove(i);
    live.delete(i);
  }
  for (let i = 70; i < 80; i++) {
    await add(i);
    live.add(i);
  }
  await Promise.all([delta.call.status, sotw.call.status]);

  // The new replica takes the old one's address (the gateway Service); the Envoys reconnect.
  const b = track(await startGateway(nats.url, FLEET, "gw-b", ["--grpc-addr", a.grpc]));
  expect(b.grpc).toBe(a.grpc);
  const delta2 = attach(new DeltaEnvoy(b.grpc, id("delta")).resume(delta));
  const sotw2 = attach(new SotwEnvoy(b.grpc, id("sotw")).resume(sotw));
  await waitFor(
    "both reconnected Envoys hold the final configuration",
    () => holds(delta2, expected()) && holds(sotw2, expected()),
    30_000,
  );
  const converged = performance.now();

  // The reference: fresh Envoys of the same fleet on the new replica.
  const fresh = attach(new DeltaEnvoy(b.grpc, id("fresh-delta")).start());
  const freshSotw = attach(new SotwEnvoy(b.grpc, id("fresh-sotw")).start());
  await waitFor("fresh Envoys hold the final configuration", () => holds(fresh, expected()) && holds(freshSotw, expected()), 30_000);
  expect(versions(delta2), "delta: the same resources under the same versions as a fresh Envoy").toEqual(versions(fresh));
  for (const t of TYPES) {
    expect(sotw2.names(t), `SotW ${t}: the same resources as a fresh Envoy`).toEqual(freshSotw.names(t));
    expect(sotw2.acked.get(t), `SotW ${t}: the same version as a fresh Envoy`).toBe(freshSotw.acked.get(t));
  }
  for (const e of [delta2, sotw2]) {
    expect(doubledAddresses(e)).toEqual([]);
    expect(e.errors).toEqual([]);
  }

  // Content hashes: a resource that did not change has the version it had on the old replica,
  // and the new one did not send it again.
  const unchanged = [...live].filter((i) => i < 60).map(listenerOf);
  expect(unchanged.length).toBe(50);
  for (const l of unchanged) expect(versions(delta2)[LISTENER_TYPE]?.[l], l).toBe(before[LISTENER_TYPE]?.[l]);
  const resent = delta2.log.filter((r) => r.typeUrl === LISTENER_TYPE).flatMap((r) => r.names.filter((n) => unchanged.includes(n)));
  expect(resent, "unchanged listeners sent again after the reconnect").toEqual([]);

  console.log(
    `gateway replaced: the reconnected Envoys (delta and SotW) converged ${Math.round(converged - killedAt)} ms after kill -9 ` +
      `(${live.size} Services; 10 added before the kill, 10 removed and 10 added while no replica was up)`,
  );
});
