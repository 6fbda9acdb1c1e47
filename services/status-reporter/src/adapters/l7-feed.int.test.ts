import { Writable } from "node:stream";
import { DeliverPolicy } from "@nats-io/jetstream";
import { type DeadLetter, decodeEvent, type GatewayResource, STREAM_NAMES } from "@sharedlb/contracts";
import {
  type ConsumerMetrics,
  connectNats,
  consumerMetrics,
  createRootLogger,
  DeadLetterPublisher,
  ensureStreams,
  type NatsHandle,
} from "@sharedlb/runtime";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { L7Sink } from "../app/ports.js";
import { reporterMetrics } from "../metrics.js";
import { gatewayResource } from "../test-support/l7-fixtures.js";
import { publishGateway } from "../test-support/l7-publish.js";
import { StreamL7Feed } from "./l7-feed.js";

// The status-reporter's L7 feed against a real nats-server: a message it cannot apply, or
// whose dead letter cannot be published, is kept, retried and named for /readyz.

let nats: TestNats;
let h: NatsHandle;
const quiet = createRootLogger("test", "silent");

beforeAll(async () => {
  nats = await startNats({ config: "max_payload: 8MB" });
  h = await connectNats(nats.url, "l7-feed-test", quiet);
  await ensureStreams(h.jsm, { replicas: 1, storage: "file" }, quiet);
});

afterAll(async () => {
  await h?.nc.drain();
  await nats?.dispose();
});

/** A logger whose lines the test can read. */
function capturedLog() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: createRootLogger("test", "info", "r1", sink), lines };
}

/** A sink that keeps the Gateways it was given; `failGateway` makes it throw instead. */
function recordingSink() {
  const gateways = new Map<string, GatewayResource | undefined>();
  const sink = {
    failGateway: undefined as Error | undefined,
    /** Only Gateways of this generation fail (all while undefined). */
    failGeneration: undefined as number | undefined,
    gateways,
    allocation: () => undefined,
    programmed: () => undefined,
    route: () => undefined,
    gateway(namespace: string, name: string, r: GatewayResource | undefined) {
      const failing = sink.failGeneration === undefined || r?.generation === sink.failGeneration;
      if (sink.failGateway !== undefined && failing) throw sink.failGateway;
      gateways.set(`${namespace}/${name}`, r);
    },
  } satisfies L7Sink & Record<string, unknown>;
  return sink;
}

async function startFeed(cluster: string, log: ReturnType<typeof capturedLog>["log"], sink: L7Sink) {
  const registry = new Registry();
  const metrics: ConsumerMetrics = consumerMetrics(registry);
  const feed = new StreamL7Feed({
    js: h.js,
    cluster,
    log,
    deadLetters: new DeadLetterPublisher(h.nc, h.js, `status-reporter-${cluster}`, "r1"),
    metrics: reporterMetrics(registry, () => 0),
    consumerMetrics: metrics,
  });
  await feed.start(sink);
  const count = async (outcome: string) =>
    (await metrics.messages.get()).values.find((v) => v.labels.consumer === "l7-gateway" && v.labels.outcome === outcome)?.value ?? 0;
  return { feed, count };
}

async function deadLetters(service: string): Promise<DeadLetter[]> {
  const consumer = await h.js.consumers.get(STREAM_NAMES.events, {
    filter_subjects: `lb.deadletter.${service}`,
    deliver_policy: DeliverPolicy.All,
  });
  const info = await consumer.info();
  const out: DeadLetter[] = [];
  if (info.num_pending === 0) return out;
  for await (const m of await consumer.fetch({ max_messages: info.num_pending, expires: 2000 })) {
    const ev = decodeEvent(m.data);
    if (ev.type === "io.sharedlb.deadletter.v1") out.push(ev.data);
    if (m.info.pending === 0) break;
  }
  return out;
}

describe("the status-reporter's L7 feed", () => {
  it("keeps a Gateway it could not apply, names it for /readyz with the error's cause logged, and applies it on retry", async () => {
    const { log, lines } = capturedLog();
    const sink = recordingSink();
    sink.failGateway = new Error("L7 world rejected the gateway", { cause: new Error("listener index out of range") });
    const { feed, count } = await startFeed("k1", log, sink);
    try {
      await publishGateway(h.js, gatewayResource("k1", "shop", "web"));
      await waitFor("the feed names the unapplied Gateway", async () => feed.applyDetail() !== undefined, 15_000);
      expect(feed.applyDetail()).toContain("lb.resource.k1.gateway.shop.web");
      expect(feed.applyDetail()).toContain("L7 world rejected the gateway");
      await waitFor("the failure is counted", async () => (await count("failed")) >= 1, 15_000);
      const logged = lines.find((l) => l.subject === "lb.resource.k1.gateway.shop.web" && l.level === 50);
      expect(JSON.stringify(logged?.err)).toContain("listener index out of range");

      sink.failGateway = undefined;
      await waitFor("the retry applies it", async () => feed.applyDetail() === undefined, 30_000);
      expect(sink.gateways.get("shop/web")?.name).toBe("web");
      expect(await count("handled")).toBe(1);
    } finally {
      await feed.stop();
    }
  });

  it("a later message for the subject that applies supersedes the unapplied one", async () => {
    const { log } = capturedLog();
    const sink = recordingSink();
    const { feed } = await startFeed("k2", log, sink);
    try {
      // Generation 1 never applies: only generation 2 can clear it.
      sink.failGateway = new Error("generation 1 cannot be applied");
      sink.failGeneration = 1;
      await publishGateway(h.js, gatewayResource("k2", "shop", "web", { generation: 1 }));
      await waitFor("the feed names the unapplied Gateway", async () => feed.applyDetail() !== undefined, 15_000);
      await publishGateway(h.js, gatewayResource("k2", "shop", "web", { generation: 2 }));
      await waitFor("every message applied", async () => feed.applyDetail() === undefined, 15_000);
      expect(sink.gateways.get("shop/web")?.generation).toBe(2);
    } finally {
      await feed.stop();
    }
  });

  it("does not lose a message whose dead letter cannot be published: counted, logged at error with the cause, kept until it is", async () => {
    const { log, lines } = capturedLog();
    const sink = recordingSink();
    const { feed, count } = await startFeed("k3", log, sink);
    // Without LB_EVENTS, the dead letter's publish has no stream to land in and fails.
    await h.jsm.streams.delete(STREAM_NAMES.events);
    try {
      await h.js.publish("lb.resource.k3.gateway.shop.bad", new TextEncoder().encode("{not json"));
      await waitFor("dead letter failure counted", async () => (await count("deadletter_failed")) >= 1, 15_000);
      const logged = lines.find((l) => l.msg === "dead letter not published; the message is kept and retried");
      expect(logged?.level).toBe(50);
      expect(logged?.subject).toBe("lb.resource.k3.gateway.shop.bad");
      expect(JSON.stringify(logged?.err)).toContain("cause");
      expect(feed.applyDetail()).toContain("lb.resource.k3.gateway.shop.bad");
      expect(await count("deadlettered")).toBe(0);
    } finally {
      await ensureStreams(h.jsm, { replicas: 1, storage: "file" }, quiet);
    }
    try {
      await waitFor("dead-lettered once the stream is back", async () => (await count("deadlettered")) === 1, 30_000);
      expect(feed.applyDetail()).toBeUndefined();
      expect((await deadLetters("status-reporter-k3")).map((d) => [d.subject, d.reason])).toEqual([
        ["lb.resource.k3.gateway.shop.bad", "MalformedJson"],
      ]);
    } finally {
      await feed.stop();
    }
  });
});
