import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import { DeliverPolicy } from "@nats-io/jetstream";
import { type DeadLetter, decodeEvent, decodeResourceMessage, makeEvent, type ResourceMessage, STREAM_NAMES, subjects } from "@sharedlb/contracts";
import { serviceResource, startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConsumerMetrics,
  ContractPipeline,
  type ContractPipelineOptions,
  connectNats,
  consumerMetrics,
  createRootLogger,
  DeadLetterPublisher,
  DurableConsumer,
  ensureDurableConsumer,
  ensureStreams,
  type NatsHandle,
  publishEvent,
} from "./index.js";

// The consumer pipeline against a real nats-server whose max_payload is the manifests' 8 MB.

let nats: TestNats;
let h: NatsHandle;
const quiet = createRootLogger("test", "silent");
const consumers: DurableConsumer[] = [];

beforeAll(async () => {
  nats = await startNats({ config: "max_payload: 8MB" });
  h = await connectNats(nats.url, "pipeline-test", quiet);
  await ensureStreams(h.jsm, { replicas: 1, storage: "file" }, quiet);
});

afterAll(async () => {
  for (const c of consumers) await c.drain();
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
  return { log: pino({ level: "info" }, sink), lines, text: () => lines.map((l) => JSON.stringify(l)).join("\n") };
}

interface Running {
  metrics: ConsumerMetrics;
  deliveries: number[];
  count(outcome: string): Promise<number>;
}

/** A durable consumer on `lb.resource.<cluster>.>` running the pipeline with `handle`. */
async function run(
  cluster: string,
  o: Partial<ContractPipelineOptions<ResourceMessage>> & Pick<ContractPipelineOptions<ResourceMessage>, "handle" | "log">,
): Promise<Running> {
  const name = `test-${cluster}`;
  await ensureDurableConsumer(h.jsm, STREAM_NAMES.resources, name, `lb.resource.${cluster}.>`, 30_000);
  const metrics = consumerMetrics(new Registry());
  const deliveries: number[] = [];
  const pipeline = new ContractPipeline<ResourceMessage>({
    consumer: name,
    decode: decodeResourceMessage,
    deadLetters: new DeadLetterPublisher(h.nc, h.js, `svc-${cluster}`, "r1"),
    metrics,
    ...o,
    handle: (v, m) => {
      deliveries.push(m.info.deliveryCount);
      return o.handle(v, m);
    },
  });
  const consumer = new DurableConsumer(h.js, STREAM_NAMES.resources, name, pipeline.process, o.log, 4);
  consumers.push(consumer);
  consumer.start();
  const count = async (outcome: string) =>
    (await metrics.messages.get()).values.find((v) => v.labels.consumer === name && v.labels.outcome === outcome)?.value ?? 0;
  return { metrics, deliveries, count };
}

function publishService(cluster: string, name: string) {
  const resource = serviceResource(cluster, "ns", name);
  const event = makeEvent({ type: "io.sharedlb.service.v1", source: "sharedlb/watcher/test", subject: `${cluster}/ns/${name}`, data: resource });
  return publishEvent(h.js, subjects.service(cluster, "ns", name), event);
}

/** Every dead letter published for `service`, oldest first. */
async function deadLetters(service: string) {
  const consumer = await h.js.consumers.get(STREAM_NAMES.events, { filter_subjects: `lb.deadletter.${service}`, deliver_policy: DeliverPolicy.All });
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

describe("the contract consumer pipeline", () => {
  it("logs a handler's error with its cause, counts it, and redelivers with backoff rather than after ack_wait", async () => {
    const { log, text } = capturedLog();
    let calls = 0;
    const r = await run("t1", {
      log,
      handle: async () => {
        calls++;
        if (calls === 1) throw new Error("claiming the slot failed", { cause: new Error("redis: script error in apply") });
        return undefined;
      },
    });
    await publishService("t1", "web");
    // ack_wait is 30 s: a redelivery well within it can only come from the nak.
    await waitFor("handled on the second delivery", async () => (await r.count("handled")) === 1, 15_000);
    expect(r.deliveries).toEqual([1, 2]);
    expect(await r.count("failed")).toBe(1);
    expect(text()).toContain("handling failed; the message will be redelivered");
    expect(text()).toContain("redis: script error in apply");
  });

  it("dead-letters and terminates a message that keeps failing, after maxDeliveries", async () => {
    const { log, text } = capturedLog();
    const r = await run("t2", {
      log,
      maxDeliveries: 3,
      handle: async () => {
        throw new TypeError("cannot read properties of undefined");
      },
    });
    await publishService("t2", "web");
    await waitFor("exhausted", async () => (await r.count("exhausted")) === 1, 15_000);
    expect(r.deliveries).toEqual([1, 2, 3]);
    const [dl] = await deadLetters("svc-t2");
    expect(dl).toMatchObject({ reason: "MaxDeliveriesExceeded", subject: "lb.resource.t2.service.ns.web", payloadEncoding: "utf8" });
    expect(dl?.message).toContain("cannot read properties of undefined");
    expect(text()).toContain("handling failed 3 times; dead-lettering the message");
    const info = await h.jsm.consumers.info(STREAM_NAMES.resources, "test-t2");
    expect(info.num_ack_pending).toBe(0);
  });

  it("does not lose a message whose dead letter cannot be published: logged with the cause, counted, retried", async () => {
    const { log, text } = capturedLog();
    const r = await run("t3", { log, handle: async () => undefined });
    // Without LB_EVENTS, the dead letter's publish has no stream to land in and fails.
    await h.jsm.streams.delete(STREAM_NAMES.events);
    try {
      await h.js.publish("lb.resource.t3.service.ns.web", new TextEncoder().encode("{not json"));
      await waitFor("dead letter failure counted", async () => (await r.count("deadletter_failed")) >= 1, 15_000);
      expect(text()).toContain("dead letter not published; the message will be redelivered");
      expect(await r.count("deadlettered")).toBe(0);
    } finally {
      await ensureStreams(h.jsm, { replicas: 1, storage: "file" }, quiet);
    }
    await waitFor("dead-lettered once the stream is back", async () => (await r.count("deadlettered")) === 1, 20_000);
    expect((await deadLetters("svc-t3")).map((d) => d.reason)).toEqual(["MalformedJson"]);
  });

  it("dead-letters the 1.4 MB control-byte and 6.5 MB non-UTF-8 bodies once, summarised to fit max_payload", async () => {
    const { log } = capturedLog();
    let decodes = 0;
    const r = await run("t4", {
      log,
      decode: (subject, data) => {
        decodes++;
        return decodeResourceMessage(subject, data);
      },
      handle: async () => undefined,
    });
    const control = new Uint8Array(1_400_000).fill(0x01);
    const notUtf8 = new Uint8Array(6_500_000).fill(0xc3);
    await h.js.publish("lb.resource.t4.service.ns.control", control);
    await h.js.publish("lb.resource.t4.service.ns.binary", notUtf8);
    await waitFor("both dead-lettered", async () => (await r.count("deadlettered")) === 2, 30_000);
    const letters = await deadLetters("svc-t4");
    expect(letters.map((d) => [d.subject, d.payloadTruncated, d.payloadBytes, d.payloadSha256])).toEqual([
      ["lb.resource.t4.service.ns.control", true, control.length, createHash("sha256").update(control).digest("hex")],
      ["lb.resource.t4.service.ns.binary", true, notUtf8.length, createHash("sha256").update(notUtf8).digest("hex")],
    ]);
    const info = await h.jsm.consumers.info(STREAM_NAMES.resources, "test-t4");
    expect([info.num_ack_pending, info.num_redelivered]).toEqual([0, 0]);
    expect(decodes).toBe(2);
    expect(await r.count("deadletter_failed")).toBe(0);
  });
});
