import type { V1Node, V1Service } from "@kubernetes/client-node";
import { createRootLogger } from "@sharedlb/runtime";
import { waitFor } from "@sharedlb/testing";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { type DesiredResource, fingerprint } from "../domain/desired.js";
import { type ResourceRef, refKey } from "../domain/keys.js";
import { watcherMetrics } from "../metrics.js";
import type { ClusterObjects, PublishedReplay, ResourceSink } from "./ports.js";
import { Watcher } from "./watcher.js";

// The application layer alone, with in-memory ports: what it publishes and tombstones
// from the cluster's objects and the stream's last values.

class FakeCluster implements ClusterObjects {
  constructor(
    readonly services: V1Service[],
    readonly nodes: V1Node[] = [],
  ) {}
  start(): void {}
  async waitForSync(): Promise<void> {}
  async stop(): Promise<void> {}
  listServices = () => this.services;
  listNodes = () => this.nodes;
  service = (ns: string, name: string) => this.services.find((s) => s.metadata?.namespace === ns && s.metadata?.name === name);
  node = (name: string) => this.nodes.find((n) => n.metadata?.name === name);
  slicesOf = () => [];
}

class RecordingSink implements ResourceSink {
  readonly sent: { op: "publish" | "tombstone"; key: string; data?: DesiredResource["data"] }[] = [];
  async publish(ref: ResourceRef, desired: DesiredResource): Promise<boolean> {
    this.sent.push({ op: "publish", key: refKey(ref), data: desired.data });
    return false;
  }
  async tombstone(ref: ResourceRef): Promise<boolean> {
    this.sent.push({ op: "tombstone", key: refKey(ref) });
    return false;
  }
}

const lb = (name: string, cls = "sharedlb.io/envoy"): V1Service => ({
  metadata: { namespace: "shop", name, uid: `u-${name}`, resourceVersion: "5" },
  spec: { type: "LoadBalancer", loadBalancerClass: cls, ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 30080 }] },
});

let running: Watcher | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function start(cluster: FakeCluster, replay: PublishedReplay, sink: RecordingSink): Watcher {
  running = new Watcher({
    cluster: "a",
    scope: { loadBalancerClass: "sharedlb.io/envoy", defaultClass: false },
    concurrency: 4,
    resyncIntervalMs: 3_600_000,
    objects: cluster,
    published: { replay: async () => replay },
    sink,
    metrics: watcherMetrics(new Registry(), () => 0),
    log: createRootLogger("watcher-test", "silent"),
  });
  void running.start();
  return running;
}

describe("Watcher (application layer)", () => {
  it("publishes the Services of its class and tombstones what the stream holds but the cluster lost", async () => {
    const sink = new RecordingSink();
    const gone = refKey({ kind: "node", namespace: "", name: "old-node" });
    const w = start(
      new FakeCluster([lb("web"), lb("foreign", "example.com/other")]),
      { entries: new Map([[gone, { uid: "n-old", fingerprint: "f", id: "a:node:n-old:1" }]]), streamSeq: 9 },
      sink,
    );
    await waitFor("two actions", async () => (w.isReady && sink.sent.length >= 2 ? true : undefined), 5_000, 10);
    expect(sink.sent.map((s) => `${s.op} ${s.key}`).sort()).toEqual([`publish ${refKey({ kind: "service", namespace: "shop", name: "web" })}`, `tombstone ${gone}`]);
    expect(sink.sent.find((s) => s.op === "publish")?.data).toMatchObject({ cluster: "a", name: "web", ports: [{ port: 80 }] });
  });

  it("publishes nothing for state the stream already holds", async () => {
    const first = new RecordingSink();
    const cluster = new FakeCluster([lb("web")]);
    const w = start(cluster, { entries: new Map(), streamSeq: 1 }, first);
    await waitFor("published", async () => (first.sent.length === 1 ? true : undefined), 5_000, 10);
    await w.stop();
    // What the first run published, replayed: a second run has nothing to do.
    const key = refKey({ kind: "service", namespace: "shop", name: "web" });
    const replayed = { entries: new Map([[key, { uid: "u-web", fingerprint: fingerprint(first.sent[0]?.data), id: "x" }]]), streamSeq: 2 };
    const second = new RecordingSink();
    const again = start(cluster, replayed, second);
    await waitFor("ready", async () => (again.isReady && again.queueDepth === 0 ? true : undefined), 5_000, 10);
    expect(second.sent).toEqual([]);
  });
});
