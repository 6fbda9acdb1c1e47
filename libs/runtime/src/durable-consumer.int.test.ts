import type { JsMsg } from "@nats-io/jetstream";
import { STREAM_NAMES } from "@sharedlb/contracts";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats, createRootLogger, DurableConsumer, ensureDurableConsumer, ensureStreams, type NatsHandle } from "./index.js";

// Progress acks against a real nats-server: a short ack_wait, kept by progress acks for the
// messages that need them and only those.

let nats: TestNats;
let h: NatsHandle;
const quiet = createRootLogger("test", "silent");
const consumers: DurableConsumer[] = [];

beforeAll(async () => {
  nats = await startNats();
  h = await connectNats(nats.url, "progress-test", quiet);
  await ensureStreams(h.jsm, { replicas: 1, storage: "file" }, quiet);
});

afterAll(async () => {
  for (const c of consumers) await c.drain();
  await h?.nc.drain();
  await nats?.dispose();
});

/** A consumer on `lb.resource.<cluster>.>` with `ackWaitMs`, progress every third of it; counts the progress acks it sends. */
async function consume(cluster: string, ackWaitMs: number, concurrency: number, handle: (m: JsMsg) => Promise<void>) {
  const name = `progress-${cluster}`;
  await ensureDurableConsumer(h.jsm, STREAM_NAMES.resources, name, `lb.resource.${cluster}.>`, ackWaitMs);
  const progress = { acks: 0 };
  // Acks go to the message's reply subject, $JS.ACK.<stream>.<consumer>...; "+WPI" is working().
  h.nc.subscribe("$JS.ACK.>", {
    callback: (_err, m) => {
      if (m.subject.includes(`.${name}.`) && m.string() === "+WPI") progress.acks++;
    },
  });
  const consumer = new DurableConsumer(h.js, STREAM_NAMES.resources, name, handle, quiet, concurrency, Math.floor(ackWaitMs / 3));
  consumers.push(consumer);
  consumer.start();
  return progress;
}

const publish = (cluster: string, i: number) => h.js.publish(`lb.resource.${cluster}.service.ns.s${i}`, "{}");

describe("progress acks", () => {
  it("keep a message handled for longer than ack_wait from being redelivered", async () => {
    let done = false;
    const progress = await consume("slow", 1200, 2, async (m) => {
      // The handling itself takes 2.5 ack_waits.
      await new Promise((r) => setTimeout(r, 3000));
      m.ack();
      done = true;
    });
    await publish("slow", 0);
    await waitFor("handled", () => done, 15_000);
    const info = await h.jsm.consumers.info(STREAM_NAMES.resources, "progress-slow");
    expect(info.delivered.consumer_seq, "delivered once: no redelivery after 1.2 s").toBe(1);
    expect(info.num_redelivered).toBe(0);
    expect(progress.acks).toBeGreaterThanOrEqual(3);
  });

  it("are not sent for messages settled within half an interval, even across ticks", async () => {
    let handled = 0;
    // 80 messages of 30 ms each, two at a time: longer than a 1 s tick, each in hand ~60 ms.
    const progress = await consume("fast", 3000, 2, async (m) => {
      await new Promise((r) => setTimeout(r, 30));
      m.ack();
      handled++;
    });
    await Promise.all(Array.from({ length: 80 }, (_, i) => publish("fast", i)));
    await waitFor("all handled", () => handled === 80, 20_000);
    expect(progress.acks).toBe(0);
  });
});
