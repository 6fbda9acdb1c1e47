import { afterAll, beforeAll, expect, it } from "vitest";
import { startNats, type TestNats } from "@sharedlb/testing";
import { connectNats, createRootLogger, ensureStreams, type NatsHandle, readLastValues } from "./index.js";

let nats: TestNats;
let h: NatsHandle;

beforeAll(async () => {
  nats = await startNats();
  const log = createRootLogger("test", "silent");
  h = await connectNats(nats.url, "test", log);
  await ensureStreams(h.jsm, { replicas: 1, storage: "file" }, log);
});

afterAll(async () => {
  await h?.nc.drain();
  await nats?.dispose();
});

const enc = (v: string) => new TextEncoder().encode(v);
const read = () => readLastValues(h.js, h.jsm, "LB_ALLOCATIONS", (subject, data) => [subject, new TextDecoder().decode(data)]);

it("returns every subject's last value, even for subjects rewritten while it replays", async () => {
  const subjects = Array.from({ length: 300 }, (_, i) => `lb.allocation.c.ns.s${i}`);
  for (const s of subjects) await h.js.publish(s, enc("v1"));
  // Rewrite subjects while replays run: with last-value retention each rewrite deletes the
  // message a replay may not have reached yet.
  let writing = true;
  const writer = (async () => {
    for (let round = 2; writing; round++) {
      for (const s of subjects.slice(0, 50)) await h.js.publish(s, enc(`v${round}`));
    }
  })();
  try {
    for (let i = 0; i < 5; i++) {
      const values = await read();
      expect(values.size).toBe(300);
    }
  } finally {
    writing = false;
    await writer;
  }
  const settled = await read();
  const lastRound = settled.get(subjects[0] as string);
  for (const s of subjects.slice(0, 50)) expect(settled.get(s)).toBe(lastRound);
  expect(settled.get(subjects[299] as string)).toBe("v1");
});

it("returns an empty map for an empty stream or a filter that matches nothing", async () => {
  expect((await readLastValues(h.js, h.jsm, "LB_RESOURCES", (s, d) => [s, d])).size).toBe(0);
  expect((await readLastValues(h.js, h.jsm, "LB_ALLOCATIONS", (s, d) => [s, d], "lb.allocation.nobody.>")).size).toBe(0);
});

it("never returns part of the stream when the server stalls mid-replay: it fails (the caller retries) or is complete", async () => {
  const subjects = Array.from({ length: 2500 }, (_, i) => `lb.allocation.stall.ns.s${i}`);
  await Promise.all(subjects.map((s) => h.js.publish(s, enc("v1"))));
  const pid = nats.pid();
  if (pid === undefined) throw new Error("nats-server has no pid");
  let resumed: Promise<void> | undefined;
  const replay = readLastValues(
    h.js,
    h.jsm,
    "LB_ALLOCATIONS",
    (subject, data) => {
      // The server stops answering for longer than a fetch waits (SIGSTOP), right after the first message.
      resumed ??= new Promise((resolve) => {
        process.kill(pid, "SIGSTOP");
        setTimeout(() => {
          process.kill(pid, "SIGCONT");
          resolve();
        }, 2_500);
      });
      return [subject, data];
    },
    "lb.allocation.stall.>",
  ).then(
    (values) => values.size,
    (err: unknown) => (err instanceof Error ? err.name : "not an Error"),
  );
  const outcome = await replay;
  await resumed;
  // nats.js ends the fetch with "heartbeats missed" (seen here); a partial map would be a count below 2,500.
  expect([subjects.length, "JetStreamError"]).toContain(outcome);
});
