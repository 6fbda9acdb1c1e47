import type { JsMsg } from "@nats-io/jetstream";
import { STREAM_NAMES } from "@sharedlb/contracts";
import { connectNats, consumerMetrics, createRootLogger, ensureStreams, type NatsHandle } from "@sharedlb/runtime";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { Registry } from "prom-client";
import { afterEach, expect, it } from "vitest";
import { StreamFollower } from "./stream-follower.js";

// A follower against a real nats-server: messages the view cannot apply, and reconnects.

const log = createRootLogger("test", "silent");
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(): Promise<{ nats: TestNats; h: NatsHandle }> {
  const nats = await startNats();
  cleanup.push(() => nats.dispose());
  const h = await connectNats(nats.url, "follower-test", log);
  cleanup.push(() => h.nc.close());
  await ensureStreams(h.jsm, { replicas: 1, storage: "file" }, log);
  return { nats, h };
}

function follow(h: NatsHandle, handle: (m: JsMsg) => void) {
  const metrics = consumerMetrics(new Registry());
  const follower = new StreamFollower({ ...h, stream: STREAM_NAMES.allocations, handle, metrics, log });
  follower.start();
  cleanup.push(() => follower.stop());
  const sample = async (name: "messages" | "pending", labels: Record<string, string>) =>
    (await metrics[name].get()).values.find((v) =>
      Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val),
    )?.value ?? 0;
  return { follower, sample };
}

const text = (m: JsMsg) => new TextDecoder().decode(m.data);

it("stays unhealthy, naming the message, while a message it could not apply is the subject's latest", async () => {
  const { h } = await setup();
  const applied: string[] = [];
  const { follower, sample } = follow(h, (m) => {
    if (text(m) === "poison") throw new Error("view rejected it", { cause: new Error("port list has a hole") });
    applied.push(text(m));
  });
  await follower.whenCaughtUp();
  await h.js.publish("lb.allocation.a.ns.web", "poison");
  await h.js.publish("lb.allocation.a.ns.api", "fine");
  await waitFor("api applied", () => applied.includes("fine"));
  expect(follower.applied).toBe(false);
  expect(follower.applyDetail()).toMatch(/lb\.allocation\.a\.ns\.web seq 1 not applied: view rejected it: caused by: port list has a hole/);
  expect(await sample("messages", { consumer: STREAM_NAMES.allocations, outcome: "failed" })).toBe(1);
  // A newer message for the same subject replaces what could not be applied.
  await h.js.publish("lb.allocation.a.ns.web", "fixed");
  await waitFor("web applied", () => applied.includes("fixed"));
  expect(follower.applied).toBe(true);
  expect(follower.applyDetail()).toBeUndefined();
});

it("is not caught up from a NATS outage until it has read what was published meanwhile, within seconds of the restart", async () => {
  const { nats, h } = await setup();
  const applied: string[] = [];
  const { follower, sample } = follow(h, (m) => void applied.push(text(m)));
  await h.js.publish("lb.allocation.a.ns.web", "v1");
  await follower.whenCaughtUp();
  await waitFor("v1", () => applied.includes("v1"));

  await nats.stop();
  await waitFor("not caught up while disconnected", () => !follower.caughtUp);
  expect(follower.lagDetail()).toMatch(/disconnected from NATS/);
  await nats.start();
  // Another client writes right after the restart, as a watcher or allocator would.
  const writer = await connectNats(nats.url, "writer", log);
  cleanup.push(() => writer.nc.close());
  await writer.js.publish("lb.allocation.a.ns.web", "v2");
  const started = performance.now();
  // Missed heartbeats alone would take about a minute to notice the dead pull subscription.
  await waitFor("v2 applied after the restart", () => applied.includes("v2"), 15_000);
  await waitFor("caught up again", () => follower.caughtUp, 15_000);
  console.log(`follower converged ${Math.round(performance.now() - started)} ms after the first write following the restart`);
  expect(await sample("pending", { consumer: STREAM_NAMES.allocations })).toBe(0);
  expect(applied).toEqual(["v1", "v2"]);
});
