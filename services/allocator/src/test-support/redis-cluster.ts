import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cluster, Redis } from "ioredis";
import { canConnect, freePort, type ManagedProcess, startProcess, waitFor } from "@sharedlb/testing";

const run = promisify(execFile);
const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? "redis-server";
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? "redis-cli";

/** A local Redis Cluster of masters only (no replicas), in a private directory. */
export interface TestRedisCluster {
  ports: number[];
  /** For --redis-url with --redis-cluster: every node, as seeds. */
  url: string;
  /** A cluster client (routes by hash slot). */
  client(): Cluster;
  /** A plain client of one node (its own keys only). */
  node(port: number): Redis;
  /** The port of the master serving `key`'s hash slot. */
  masterOf(key: string): Promise<number>;
  dispose(): Promise<void>;
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });

/** A free port whose cluster bus port (+10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p < 55_000 && !taken.has(p) && !taken.has(p + 10_000) && (await portFree(p + 10_000))) return p;
  }
}

export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "sharedlb-redis-cluster-"));
  const procs: ManagedProcess[] = [];
  const ports: number[] = [];
  const taken = new Set<number>();
  const nodes: Redis[] = [];
  const clients: Cluster[] = [];
  const dispose = async () => {
    for (const c of clients) c.disconnect();
    for (const n of nodes) n.disconnect();
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await clusterPort(taken);
      taken.add(port);
      taken.add(port + 10_000);
      ports.push(port);
      procs.push(
        startProcess(REDIS_BIN, [
          "--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
          "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--cluster-node-timeout", "2000",
          "--appendonly", "no", "--save", "", "--dir", dir,
        ]),
      );
    }
    for (const port of ports) await waitFor(`redis-server on ${port}`, () => canConnect(port), 15_000);
    await run(REDIS_CLI, ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { timeout: 30_000 });
    for (const port of ports) nodes.push(new Redis({ port, host: "127.0.0.1", lazyConnect: false }));
    // Every node must agree the slots are all served before a client starts routing.
    await waitFor("cluster_state:ok on every node", async () => {
      const infos = await Promise.all(nodes.map((n) => n.cluster("INFO")));
      return infos.every((i) => String(i).includes("cluster_state:ok")) || undefined;
    }, 30_000, 100);
  } catch (err) {
    await dispose();
    throw err;
  }
  const nodeByPort = new Map(ports.map((p, i) => [p, nodes[i] as Redis]));
  return {
    ports,
    url: `redis://${ports.map((p) => `127.0.0.1:${p}`).join(",")}`,
    client: () => {
      const c = new Cluster(ports.map((port) => ({ host: "127.0.0.1", port })));
      clients.push(c);
      return c;
    },
    node: (port) => {
      const n = nodeByPort.get(port);
      if (!n) throw new Error(`no node on ${port}`);
      return n;
    },
    masterOf: async (key) => {
      const first = nodes[0] as Redis;
      const slot = Number(await first.cluster("KEYSLOT", key));
      const ranges = await first.cluster("SLOTS");
      const hit = ranges.find(([lo, hi]) => slot >= lo && slot <= hi);
      const master = hit?.[2];
      if (!master) throw new Error(`slot ${slot} of ${key} is served by no node`);
      return master[1];
    },
    dispose,
  };
}
