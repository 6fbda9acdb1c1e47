import { RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { STREAM_NAMES, streamDefinitions } from "@sharedlb/contracts";
import { startNats, type TestNats } from "@sharedlb/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connectNats, createRootLogger, ensureStreams, type NatsHandle } from "./index.js";

// Streams made by an earlier version meet the current contract.

let nats: TestNats;
let h: NatsHandle;
const log = createRootLogger("test", "silent");
const events = () => streamDefinitions().find((d) => d.name === STREAM_NAMES.events);

beforeAll(async () => {
  nats = await startNats();
  h = await connectNats(nats.url, "test", log);
});

afterAll(async () => {
  await h?.nc.drain();
  await nats?.dispose();
});

const addEvents = (subjects: string[]) =>
  h.jsm.streams.add({
    name: STREAM_NAMES.events,
    subjects,
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: -1,
  });

it("adds subjects a contract addition gave an existing stream, keeping its messages", async () => {
  const current = events()?.subjects ?? [];
  expect(current).toContain("lb.programmed.>");
  await addEvents(current.filter((s) => s !== "lb.programmed.>"));
  await h.js.publish("lb.status.a.shop.web", new TextEncoder().encode("{}"));
  await ensureStreams(h.jsm, { replicas: 1, storage: "file" }, log);
  const info = await h.jsm.streams.info(STREAM_NAMES.events);
  expect([...(info.config.subjects ?? [])].sort()).toEqual([...current].sort());
  expect(info.state.messages).toBe(1);
  expect((await h.js.publish("lb.programmed.a.shop.web", new TextEncoder().encode("{}"))).stream).toBe(STREAM_NAMES.events);
  await h.jsm.streams.delete(STREAM_NAMES.events);
});

it("still refuses a stream that holds subjects the contract does not give it", async () => {
  await addEvents([...(events()?.subjects ?? []), "other.>"]);
  await expect(ensureStreams(h.jsm, { replicas: 1, storage: "file" }, log)).rejects.toThrow(
    /stream LB_EVENTS exists with a conflicting configuration: subjects/,
  );
  await h.jsm.streams.delete(STREAM_NAMES.events);
});
