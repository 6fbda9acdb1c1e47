import { describe, expect, it } from "vitest";
import { encodeEvent, makeEvent } from "@sharedlb/contracts";
import { CliError } from "./errors.js";
import { type EventRecord, mergeByTime, parseSince, RecentIds, renderEventLine, subjectMatches, toRecord } from "./events.js";
import { ANSI_STYLE, PLAIN_STYLE } from "./style.js";

const origin = { stream: "LB_HISTORY", seq: 3, storedAt: "2026-11-22T01:00:00.000Z" };

describe("toRecord", () => {
  it("summarizes L7 allocations and TLS Secrets, never showing the sealed key", () => {
    const l7 = makeEvent({
      type: "io.sharedlb.l7allocation.v1",
      source: "sharedlb/allocator/r1",
      subject: "a/shop/edge",
      data: {
        cluster: "a", namespace: "shop", name: "edge", kind: "gateway", uid: "u", state: "Allocated", reason: "", message: "",
        resourceSequence: 2,
        listeners: [
          {
            name: "https", protocol: "HTTPS", state: "Allocated", pool: "public", ip: "203.0.113.10", port: 443, shared: true,
            claimedHostnames: ["shop.example.com"],
            refusedHostnames: [{ hostname: "api.example.com", reason: "HostnameConflict", message: "taken" }],
            reason: "", message: "",
          },
        ],
      },
    });
    expect(toRecord("lb.allocation.a.shop.edge.gateway", encodeEvent(l7), origin).summary).toBe(
      "gateway Allocated: https Allocated 203.0.113.10:443 claimed=1 refused=1",
    );
    const sealed = { alg: "X25519-HKDF-SHA256-A256GCM" as const, keyId: "0123456789abcdef", epk: "e", nonce: "n", ciphertext: "SEALEDBYTES" };
    const secret = makeEvent({
      type: "io.sharedlb.secret.v1",
      source: "sharedlb/watcher/a",
      subject: "a/shop/tls",
      data: {
        cluster: "a", namespace: "shop", name: "tls", uid: "u", certificateChainPem: "-----BEGIN CERTIFICATE-----",
        notAfter: "2027-01-01T00:00:00Z", dnsNames: ["shop.example.com"], privateKey: sealed,
      },
    });
    const summary = toRecord("lb.resource.a.secret.shop.tls", encodeEvent(secret), origin).summary;
    expect(summary).toBe("TLS Secret shop.example.com until 2027-01-01T00:00:00Z");
  });

  it("summarizes an allocation in one line", () => {
    const ev = makeEvent({
      type: "io.sharedlb.allocation.v1",
      source: "sharedlb/allocator/r1",
      subject: "a/shop/web",
      time: new Date("2026-11-22T01:02:03.000Z"),
      data: {
        cluster: "a",
        namespace: "shop",
        name: "web",
        uid: "u",
        state: "Allocated",
        pool: "public",
        ip: "203.0.113.10",
        ports: [{ name: "h", protocol: "TCP", port: 8443, externalPort: 443, nodePort: 31443 }],
        reason: "",
        message: "",
        resourceSequence: 1,
      },
    });
    const r = toRecord("lb.allocation.a.shop.web", encodeEvent(ev), origin);
    expect(r).toMatchObject({
      time: "2026-11-22T01:02:03.000Z",
      type: "allocation",
      subject: "a/shop/web",
      summary: "Allocated public 203.0.113.10 8443/TCP→443",
    });
    expect(renderEventLine(r, PLAIN_STYLE)).toBe(
      `2026-11-22T01:02:03.000Z  allocation  ${"a/shop/web".padEnd(24)}  Allocated public 203.0.113.10 8443/TCP→443`,
    );
    expect(renderEventLine(r, ANSI_STYLE)).toContain("\u001b[32mAllocated\u001b[39m");
  });

  it("keeps an invalid message visible, timed by the stream", () => {
    const r = toRecord("lb.resource.a.service.x.y", new TextEncoder().encode("{not json"), origin);
    expect(r).toMatchObject({ type: "invalid", time: origin.storedAt, subject: "lb.resource.a.service.x.y", id: "LB_HISTORY#3" });
    expect(r.summary).toContain("MalformedJson");
  });

  it("summarizes xds nacks with the error and the short type", () => {
    const ev = makeEvent({
      type: "io.sharedlb.xds.v1",
      source: "sharedlb/xds-gateway/g",
      subject: "edge/n1",
      data: {
        fleet: "edge",
        node: "n1",
        event: "nack",
        stream: "delta",
        replica: "g",
        typeUrl: "type.googleapis.com/envoy.config.listener.v3.Listener",
        version: "7",
        errorDetail: { code: 3, message: "bad\nlistener" },
      },
    });
    expect(toRecord("lb.xds.edge.n1", encodeEvent(ev), origin).summary).toBe("nack Listener v7 node n1 (delta, replica g): bad listener");
  });
});

describe("mergeByTime", () => {
  const rec = (time: string, id: string) => ({ time, id }) as EventRecord;
  it("orders by event time and keeps stream order for equal times", () => {
    const merged = mergeByTime([
      [rec("2026-01-01T00:00:02Z", "h1"), rec("2026-01-01T00:00:05Z", "h2")],
      [rec("2026-01-01T00:00:02Z", "e1"), rec("2026-01-01T00:00:03Z", "e2")],
    ]);
    expect(merged.map((r) => r.id)).toEqual(["h1", "e1", "e2", "h2"]);
  });
});

describe("parseSince", () => {
  const now = new Date("2026-11-22T12:00:00.000Z");
  it.each([
    ["1h", "2026-11-22T11:00:00.000Z"],
    ["90s", "2026-11-22T11:58:30.000Z"],
    ["1h30m", "2026-11-22T10:30:00.000Z"],
    ["2d", "2026-11-20T12:00:00.000Z"],
    ["2026-11-22T01:00:00Z", "2026-11-22T01:00:00.000Z"],
  ])("%s", (v, want) => {
    expect(parseSince(v, now).toISOString()).toBe(want);
  });
  it("rejects anything else as a usage error", () => {
    expect(() => parseSince("1 hour", now)).toThrow(CliError);
    expect(() => parseSince("h", now)).toThrow(/neither a duration/);
  });
});

describe("subjectMatches", () => {
  it.each([
    ["lb.>", "lb.allocation.a.x.y", true],
    ["lb.>", "lb", false],
    ["lb.*.a.>", "lb.resource.a.service.x.y", true],
    ["lb.*.a.>", "lb.resource.b.service.x.y", false],
    ["lb.xds.edge.*", "lb.xds.edge.n1", true],
    ["lb.xds.edge.*", "lb.xds.edge.n1.x", false],
    ["lb.status.a.x.y", "lb.status.a.x.y", true],
  ])("%s ~ %s = %s", (f, s, want) => {
    expect(subjectMatches(f, s)).toBe(want);
  });
});

describe("RecentIds", () => {
  it("reports first sightings and forgets the oldest beyond its bound", () => {
    const ids = new RecentIds(2);
    expect([ids.add("a"), ids.add("a"), ids.add("b"), ids.add("c"), ids.add("a")]).toEqual([true, false, true, true, true]);
  });
});
