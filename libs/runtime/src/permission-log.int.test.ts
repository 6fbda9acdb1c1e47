import { Writable } from "node:stream";
import { startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats, createRootLogger, type NatsHandle } from "./index.js";

// issue 10: "a denied publish or subscribe is logged by the service with the subject (not
// the payload)". A user that may publish only its own cluster's resources, as a tenant does.
const CONFIG = `authorization {
  users = [
    { user: "tenant-a", password: "pw-a-7f3c", permissions: {
        publish: { allow: ["lb.resource.a.>", "_INBOX.>", "$JS.API.INFO"] },
        subscribe: { allow: ["_INBOX.>"] } } }
  ]
}`;
const PAYLOAD_MARKER = "payload-marker-6d1e2b";

let nats: TestNats;
let h: NatsHandle;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  nats = await startNats({ config: CONFIG });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n")) if (l.trim() !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  h = await connectNats(nats.url, "tenant-a-test", createRootLogger("test", "info", "r1", sink), {
    user: "tenant-a",
    password: "pw-a-7f3c",
  });
});

afterAll(async () => {
  await h?.nc.close();
  await nats?.dispose();
});

const denials = () => lines.filter((l) => l.msg === "NATS permission denied");

describe("a denied publish or subscribe", () => {
  it("is logged with the operation and subject, never the payload, and the connection carries on", async () => {
    h.nc.publish("lb.resource.b.service.shop.web", new TextEncoder().encode(PAYLOAD_MARKER));
    await waitFor("publish denial logged", () =>
      denials().some((l) => l.operation === "publish" && l.subject === "lb.resource.b.service.shop.web"),
    );
    h.nc.subscribe("lb.allocation.b.>");
    await waitFor("subscribe denial logged", () =>
      denials().some((l) => l.operation === "subscription" && l.subject === "lb.allocation.b.>"),
    );

    const text = JSON.stringify(lines);
    expect(text).not.toContain(PAYLOAD_MARKER);
    expect(text).not.toContain("pw-a-7f3c");
    // Still connected: its own subjects go through.
    expect(h.nc.isClosed()).toBe(false);
    await h.nc.flush();
    h.nc.publish("lb.resource.a.service.shop.web", new TextEncoder().encode("{}"));
    await h.nc.flush();
    expect(denials().filter((l) => String(l.subject).startsWith("lb.resource.a."))).toEqual([]);
  });
});
