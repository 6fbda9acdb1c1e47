import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import type { DeltaResponse } from "./delta-response.js";
import { type DeltaRequest, DeltaSession } from "./delta-session.js";
import { FleetSnapshot } from "./fleet-snapshot.js";
import { ResourceEntry } from "./resource-entry.js";
import { SubscriptionRegistry } from "./subscription.js";

const entry = (typeUrl: ResourceTypeUrl, name: string, content = "v1", wildcard = true) =>
  new ResourceEntry(typeUrl, name, "public", wildcard, "a/ns/svc", Buffer.from(`${name}=${content}`));

function req(typeUrl: ResourceTypeUrl, over: Partial<DeltaRequest> = {}): DeltaRequest {
  return { typeUrl, subscribe: [], unsubscribe: [], initialVersions: new Map(), responseNonce: "", errorDetail: undefined, ...over };
}

function setup(...entries: ResourceEntry[]) {
  const fleet = new FleetSnapshot("edge", new Set(["public"]));
  const session = new DeltaSession();
  fleet.subscribe({
    onFleetChange: (change) => {
      for (const [t, list] of change) session.markChanged(t, list);
    },
  });
  fleet.apply(
    entries.map((e) => ({ typeUrl: e.typeUrl, name: e.name, before: undefined, after: e })),
    0,
  );
  const next = () => session.next((t) => fleet.table(t));
  const put = (e: ResourceEntry) =>
    fleet.apply([{ typeUrl: e.typeUrl, name: e.name, before: fleet.table(e.typeUrl).get(e.name), after: e }], 1);
  const remove = (t: ResourceTypeUrl, name: string) =>
    fleet.apply([{ typeUrl: t, name, before: fleet.table(t).get(name), after: undefined }], 1);
  const ack = (p: DeltaResponse | undefined) => session.onRequest(req(p?.typeUrl ?? CLUSTER_TYPE, { responseNonce: p?.nonce ?? "" }));
  return { fleet, session, next, put, remove, ack };
}

const names = (p: DeltaResponse | undefined) => p?.resources.map((e) => e.name).sort();

describe("DeltaSession", () => {
  it("legacy wildcard: a first LDS/CDS request naming nothing gets everything, then only changes", () => {
    const s = setup(entry(CLUSTER_TYPE, "c1"), entry(CLUSTER_TYPE, "c2"));
    expect(s.session.onRequest(req(CLUSTER_TYPE))).toMatchObject({ kind: "initial" });
    const first = s.next();
    expect(names(first)).toEqual(["c1", "c2"]);
    expect(s.ack(first)).toMatchObject({ kind: "ack" });
    expect(s.next()).toBeUndefined();
    s.put(entry(CLUSTER_TYPE, "c2", "v2"));
    s.put(entry(CLUSTER_TYPE, "c3"));
    const change = s.next();
    expect(names(change)).toEqual(["c2", "c3"]);
    expect(change?.removed).toEqual([]);
    s.remove(CLUSTER_TYPE, "c1");
    expect(s.next()).toMatchObject({ resources: [], removed: ["c1"] });
  });

  it("named: sends subscribed names when they exist or appear, removal when they go", () => {
    const s = setup(entry(ENDPOINT_TYPE, "c1"), entry(ENDPOINT_TYPE, "other"));
    s.session.onRequest(req(ENDPOINT_TYPE, { subscribe: ["c1", "c2"] }));
    expect(names(s.next())).toEqual(["c1"]);
    s.put(entry(ENDPOINT_TYPE, "c2"));
    s.put(entry(ENDPOINT_TYPE, "other", "v2"));
    expect(names(s.next())).toEqual(["c2"]);
    s.remove(ENDPOINT_TYPE, "c1");
    expect(s.next()).toMatchObject({ resources: [], removed: ["c1"] });
    // Unsubscribed names are forgotten without a message.
    s.session.onRequest(req(ENDPOINT_TYPE, { unsubscribe: ["c2"] }));
    s.remove(ENDPOINT_TYPE, "c2");
    expect(s.next()).toBeUndefined();
  });

  it("reconnect: initial_resource_versions are not sent again; stale ones are updated, gone ones removed", () => {
    const c1 = entry(CLUSTER_TYPE, "c1");
    const c2 = entry(CLUSTER_TYPE, "c2", "v2");
    const s = setup(c1, c2, entry(CLUSTER_TYPE, "c3"));
    s.session.onRequest(
      req(CLUSTER_TYPE, {
        initialVersions: new Map([
          ["c1", c1.version],
          ["c2", "old"],
          ["gone", "x"],
        ]),
      }),
    );
    const r = s.next();
    expect(names(r)).toEqual(["c2", "c3"]);
    expect(r?.removed).toEqual(["gone"]);
    const s2 = setup(c1, c2);
    s2.session.onRequest(
      req(CLUSTER_TYPE, {
        initialVersions: new Map([
          ["c1", c1.version],
          ["c2", c2.version],
        ]),
      }),
    );
    expect(s2.next()).toBeUndefined();
  });

  it("a NACKed resource version is never sent again; the next version is", () => {
    const s = setup(entry(CLUSTER_TYPE, "c1"));
    s.session.onRequest(req(CLUSTER_TYPE));
    s.ack(s.next());
    s.put(entry(CLUSTER_TYPE, "c1", "bad"));
    const bad = s.next();
    expect(
      s.session.onRequest(req(CLUSTER_TYPE, { responseNonce: bad?.nonce, errorDetail: { code: 3, message: "rejected" } })),
    ).toMatchObject({
      kind: "nack",
      error: { message: "rejected" },
    });
    expect(s.next()).toBeUndefined();
    s.put(entry(CLUSTER_TYPE, "c1", "bad"));
    expect(s.next()).toBeUndefined();
    s.put(entry(CLUSTER_TYPE, "c1", "good"));
    expect(s.next()?.resources[0]?.version).toBe(entry(CLUSTER_TYPE, "c1", "good").version);
  });

  it("an ACK for an unknown nonce is stale and changes nothing", () => {
    const s = setup(entry(CLUSTER_TYPE, "c1"));
    s.session.onRequest(req(CLUSTER_TYPE));
    s.next();
    expect(s.session.onRequest(req(CLUSTER_TYPE, { responseNonce: "nope" }))).toMatchObject({ kind: "stale" });
  });

  it("sends a cluster's endpoints again after the cluster changed, in CDS → EDS order", () => {
    const s = setup(entry(CLUSTER_TYPE, "c1"), entry(ENDPOINT_TYPE, "c1"), entry(LISTENER_TYPE, "l1"));
    s.session.onRequest(req(LISTENER_TYPE));
    s.session.onRequest(req(ENDPOINT_TYPE, { subscribe: ["c1"] }));
    s.session.onRequest(req(CLUSTER_TYPE));
    const order: string[] = [];
    for (let p = s.next(); p; p = s.next()) {
      order.push(p.typeUrl);
      s.ack(p);
    }
    expect(order).toEqual([CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE]);
    s.put(entry(CLUSTER_TYPE, "c1", "v2"));
    const cds = s.next();
    const eds = s.next();
    expect([cds?.typeUrl, eds?.typeUrl]).toEqual([CLUSTER_TYPE, ENDPOINT_TYPE]);
    expect(names(eds)).toEqual(["c1"]);
    expect(s.next()).toBeUndefined();
  });

  it("reconnect: an assignment the client holds is sent again when its cluster is, so the cluster can warm", () => {
    const c1 = entry(CLUSTER_TYPE, "c1", "v2");
    const e1 = entry(ENDPOINT_TYPE, "c1");
    const e2 = entry(ENDPOINT_TYPE, "c2");
    const s = setup(c1, entry(CLUSTER_TYPE, "c2"), e1, e2);
    s.session.onRequest(
      req(ENDPOINT_TYPE, {
        subscribe: ["c1", "c2"],
        initialVersions: new Map([
          ["c1", e1.version],
          ["c2", e2.version],
        ]),
      }),
    );
    s.session.onRequest(
      req(CLUSTER_TYPE, {
        initialVersions: new Map([
          ["c1", "v1"],
          ["c2", entry(CLUSTER_TYPE, "c2").version],
        ]),
      }),
    );
    const cds = s.next();
    expect([cds?.typeUrl, names(cds)]).toEqual([CLUSTER_TYPE, ["c1"]]);
    const eds = s.next();
    expect([eds?.typeUrl, names(eds)]).toEqual([ENDPOINT_TYPE, ["c1"]]);
    expect(s.next()).toBeUndefined();
  });

  it("reconnect: the same when the client asks for assignments only once it has the clusters, as Envoy does", () => {
    const c1 = entry(CLUSTER_TYPE, "c1", "v2");
    const e1 = entry(ENDPOINT_TYPE, "c1");
    const s = setup(c1, e1, entry(ENDPOINT_TYPE, "c2"), entry(CLUSTER_TYPE, "c2"));
    s.session.onRequest(
      req(CLUSTER_TYPE, {
        initialVersions: new Map([
          ["c1", "v1"],
          ["c2", entry(CLUSTER_TYPE, "c2").version],
        ]),
      }),
    );
    const cds = s.next();
    expect([cds?.typeUrl, names(cds)]).toEqual([CLUSTER_TYPE, ["c1"]]);
    s.session.onRequest(
      req(ENDPOINT_TYPE, {
        subscribe: ["c1", "c2"],
        initialVersions: new Map([
          ["c1", e1.version],
          ["c2", entry(ENDPOINT_TYPE, "c2").version],
        ]),
      }),
    );
    const eds = s.next();
    expect([eds?.typeUrl, names(eds)]).toEqual([ENDPOINT_TYPE, ["c1"]]);
    expect(s.next()).toBeUndefined();
  });

  it("a cluster change after an endpoint change, neither sent yet: the endpoints response carries both assignments", () => {
    const s = setup(entry(CLUSTER_TYPE, "c1"), entry(ENDPOINT_TYPE, "c1"), entry(ENDPOINT_TYPE, "c2"));
    s.session.onRequest(req(ENDPOINT_TYPE, { subscribe: ["c1", "c2"] }));
    s.session.onRequest(req(CLUSTER_TYPE));
    for (let p = s.next(); p; p = s.next()) s.ack(p);
    s.put(entry(ENDPOINT_TYPE, "c2", "v2"));
    s.put(entry(CLUSTER_TYPE, "c1", "v2"));
    const cds = s.next();
    const eds = s.next();
    expect([cds?.typeUrl, eds?.typeUrl]).toEqual([CLUSTER_TYPE, ENDPOINT_TYPE]);
    expect(names(eds)).toEqual(["c1", "c2"]);
    expect(s.next()).toBeUndefined();
  });

  it("a change made and undone before it was sent sends nothing", () => {
    const s = setup(entry(CLUSTER_TYPE, "c1"));
    s.session.onRequest(req(CLUSTER_TYPE));
    s.ack(s.next());
    s.put(entry(CLUSTER_TYPE, "c1", "v2"));
    s.put(entry(CLUSTER_TYPE, "c1", "v1"));
    expect(s.next()).toBeUndefined();
  });

  it("explicit * adds wildcard to a named subscription", () => {
    const s = setup(entry(LISTENER_TYPE, "l1"), entry(LISTENER_TYPE, "api", "v1", false));
    s.session.onRequest(req(LISTENER_TYPE, { subscribe: ["api"] }));
    expect(names(s.next())).toEqual(["api"]);
    s.session.onRequest(req(LISTENER_TYPE, { subscribe: ["*"] }));
    expect(names(s.next())).toEqual(["l1"]);
  });
});

describe("DeltaSession chunking", () => {
  it("splits a large sync into responses of at most maxPerResponse, still CDS before EDS", () => {
    const fleet = new FleetSnapshot("edge", new Set(["public"]));
    const clusters = Array.from({ length: 25 }, (_, i) => entry(CLUSTER_TYPE, `c${i}`));
    const cla = Array.from({ length: 25 }, (_, i) => entry(ENDPOINT_TYPE, `c${i}`));
    fleet.apply(
      [...clusters, ...cla].map((e) => ({ typeUrl: e.typeUrl, name: e.name, before: undefined, after: e })),
      0,
    );
    const session = new DeltaSession(10);
    session.onRequest(req(CLUSTER_TYPE));
    session.onRequest(req(ENDPOINT_TYPE, { subscribe: cla.map((e) => e.name) }));
    const sent: [string, number][] = [];
    for (let p = session.next((t) => fleet.table(t)); p; p = session.next((t) => fleet.table(t)))
      sent.push([p.typeUrl, p.resources.length]);
    expect(sent).toEqual([
      [CLUSTER_TYPE, 10],
      [CLUSTER_TYPE, 10],
      [CLUSTER_TYPE, 5],
      [ENDPOINT_TYPE, 10],
      [ENDPOINT_TYPE, 10],
      [ENDPOINT_TYPE, 5],
    ]);
  });

  it("a CDS first sync holds nothing per cluster for the EDS first sync that follows it", () => {
    const fleet = new FleetSnapshot("edge", new Set(["public"]));
    const all = Array.from({ length: 25 }, (_, i) => [entry(CLUSTER_TYPE, `c${i}`), entry(ENDPOINT_TYPE, `c${i}`)]).flat();
    fleet.apply(
      all.map((e) => ({ typeUrl: e.typeUrl, name: e.name, before: undefined, after: e })),
      0,
    );
    const session = new DeltaSession(10);
    session.onRequest(req(CLUSTER_TYPE));
    session.onRequest(req(ENDPOINT_TYPE, { subscribe: all.filter((e) => e.typeUrl === ENDPOINT_TYPE).map((e) => e.name) }));
    const sent: string[] = [];
    for (let p = session.next((t) => fleet.table(t)); p; p = session.next((t) => fleet.table(t))) {
      if (p.typeUrl === CLUSTER_TYPE) expect(session.pendingNames(ENDPOINT_TYPE)).toBe(0);
      sent.push(...p.resources.map((e) => `${p.typeUrl === CLUSTER_TYPE ? "cds" : "eds"}:${e.name}`));
    }
    // Every assignment once, each after every cluster.
    expect(sent).toHaveLength(50);
    expect(new Set(sent).size).toBe(50);
    expect(sent.findIndex((n) => n.startsWith("eds:"))).toBe(25);
  });

  describe("shared first sync", () => {
    const cla = Array.from({ length: 100 }, (_, i) => entry(ENDPOINT_TYPE, `c${i}`));
    function fleetOf() {
      const fleet = new FleetSnapshot("edge", new Set(["public"]));
      fleet.apply(
        cla.map((e) => ({ typeUrl: e.typeUrl, name: e.name, before: undefined, after: e })),
        0,
      );
      return fleet;
    }
    function stream(fleet: FleetSnapshot, registry: SubscriptionRegistry) {
      const session = new DeltaSession(30, undefined, registry);
      fleet.subscribe({
        onFleetChange: (change) => {
          for (const [t, list] of change) session.markChanged(t, list);
        },
      });
      session.onRequest(req(ENDPOINT_TYPE, { subscribe: cla.map((e) => e.name) }));
      return { session, next: () => session.next((t) => fleet.table(t)) };
    }

    it("streams subscribing to the same names get the very same responses (bytes, nonces), chunked", () => {
      const fleet = fleetOf();
      const registry = new SubscriptionRegistry();
      const a = stream(fleet, registry);
      const b = stream(fleet, registry);
      const fromA: DeltaResponse[] = [];
      for (let r = a.next(); r; r = a.next()) fromA.push(r);
      const fromB: DeltaResponse[] = [];
      for (let r = b.next(); r; r = b.next()) fromB.push(r);
      expect(fromA.map((r) => r.resources.length)).toEqual([30, 30, 30, 10]);
      expect(fromB).toHaveLength(4);
      fromB.forEach((r, i) => {
        expect(r).toBe(fromA[i]);
        expect(r.bytes()).toBe(fromA[i]?.bytes());
      });
      expect(new Set(fromA.flatMap((r) => r.resources.map((e) => e.name))).size).toBe(100);
    });

    it("a change during the sync follows it as a change, whichever response carried the old version", () => {
      const fleet = fleetOf();
      const s = stream(fleet, new SubscriptionRegistry());
      const first = s.next();
      const early = first?.resources[0]?.name ?? "";
      const late = cla.find((e) => !first?.resources.some((r) => r.name === e.name))?.name ?? "";
      for (const name of [early, late])
        fleet.apply(
          [{ typeUrl: ENDPOINT_TYPE, name, before: fleet.table(ENDPOINT_TYPE).get(name), after: entry(ENDPOINT_TYPE, name, "v2") }],
          1,
        );
      const rest: DeltaResponse[] = [];
      for (let r = s.next(); r; r = s.next()) rest.push(r);
      expect(rest.map((r) => r.resources.length)).toEqual([30, 30, 10, 2]);
      const change = rest.at(-1);
      expect(names(change)).toEqual([early, late].sort());
      expect(change?.resources.every((e) => e.version === entry(ENDPOINT_TYPE, e.name, "v2").version)).toBe(true);
    });
  });
});

describe("DeltaSession: one fleet change, many streams", () => {
  /** `n` streams of one fleet, each subscribed to `names` of EDS (one registry, as the gateway's). */
  function streams(n: number, subscribed: (i: number) => string[], ...entries: ResourceEntry[]) {
    const fleet = new FleetSnapshot("edge", new Set(["public"]));
    const registry = new SubscriptionRegistry();
    const sessions = Array.from({ length: n }, () => new DeltaSession(1000, undefined, registry));
    fleet.subscribe({
      onFleetChange: (change) => {
        for (const s of sessions) for (const [t, list] of change) s.markChanged(t, list);
      },
    });
    fleet.apply(
      entries.map((e) => ({ typeUrl: e.typeUrl, name: e.name, before: undefined, after: e })),
      0,
    );
    const next = (s: DeltaSession) => s.next((t) => fleet.table(t));
    for (const [i, s] of sessions.entries()) {
      s.onRequest(req(ENDPOINT_TYPE, { subscribe: subscribed(i) }));
      const first = next(s);
      s.onRequest(req(ENDPOINT_TYPE, { responseNonce: first?.nonce ?? "" }));
    }
    const flap = (...changed: ResourceEntry[]) =>
      fleet.apply(
        changed.map((e) => ({ typeUrl: e.typeUrl, name: e.name, before: fleet.table(e.typeUrl).get(e.name), after: e })),
        1,
      );
    return { sessions, next, flap };
  }

  it("is encoded once for the streams of one subscription, and apart for a stream that rejected or asks for other names", () => {
    const all = ["c1", "c2", "c3"];
    const s = streams(
      4,
      (i) => (i === 3 ? ["c1"] : all),
      entry(ENDPOINT_TYPE, "c1"),
      entry(ENDPOINT_TYPE, "c2"),
      entry(ENDPOINT_TYPE, "c3"),
    );
    const [a, b, c, d] = s.sessions as [DeltaSession, DeltaSession, DeltaSession, DeltaSession];
    // c rejects a response: what it has rejected must not be sent again, so its responses are its own.
    s.flap(entry(ENDPOINT_TYPE, "c3", "v2"));
    for (const x of [a, b, d]) s.next(x);
    const bad = s.next(c);
    c.onRequest(req(ENDPOINT_TYPE, { responseNonce: bad?.nonce ?? "", errorDetail: { code: 3, message: "no" } }));

    s.flap(entry(ENDPOINT_TYPE, "c1", "v2"), entry(ENDPOINT_TYPE, "c2", "v2"));
    const ra = s.next(a);
    const rb = s.next(b);
    const rc = s.next(c);
    const rd = s.next(d);
    expect(names(ra)).toEqual(["c1", "c2"]);
    expect(rb, "same subscription, same change: one response").toBe(ra);
    expect(names(rc)).toEqual(["c1", "c2"]);
    expect(rc).not.toBe(ra);
    expect(names(rd)).toEqual(["c1"]);
    expect(rd).not.toBe(ra);
    // Nothing more for anyone, and an ACK of the shared nonce is each stream's own.
    for (const x of [a, b, c, d]) expect(s.next(x)).toBeUndefined();
    expect(a.onRequest(req(ENDPOINT_TYPE, { responseNonce: ra?.nonce ?? "" }))).toMatchObject({ kind: "ack" });
    expect(b.onRequest(req(ENDPOINT_TYPE, { responseNonce: ra?.nonce ?? "" }))).toMatchObject({ kind: "ack" });
  });

  it("a stream whose subscription changes before the change is sent gets the change and its new names, without what it dropped", () => {
    const all = ["c1", "c2"];
    const s = streams(3, () => all, entry(ENDPOINT_TYPE, "c1"), entry(ENDPOINT_TYPE, "c2"), entry(ENDPOINT_TYPE, "c3"));
    const [a, b, c] = s.sessions as [DeltaSession, DeltaSession, DeltaSession];
    s.flap(entry(ENDPOINT_TYPE, "c1", "v2"), entry(ENDPOINT_TYPE, "c2", "v2"));
    a.onRequest(req(ENDPOINT_TYPE, { subscribe: ["c3"] }));
    b.onRequest(req(ENDPOINT_TYPE, { unsubscribe: ["c2"] }));
    const ra = s.next(a);
    const rb = s.next(b);
    const rc = s.next(c);
    expect(names(ra)).toEqual(["c1", "c2", "c3"]);
    expect(names(rb)).toEqual(["c1"]);
    expect(names(rc)).toEqual(["c1", "c2"]);
    for (const x of [a, b, c]) expect(s.next(x)).toBeUndefined();
  });

  it("is not shared with a stream that still had an earlier change to send", () => {
    const all = ["c1", "c2"];
    const s = streams(2, () => all, entry(ENDPOINT_TYPE, "c1"), entry(ENDPOINT_TYPE, "c2"));
    const [a, b] = s.sessions as [DeltaSession, DeltaSession];
    s.flap(entry(ENDPOINT_TYPE, "c1", "v2"));
    s.next(a); // b has not been sent c1's change yet
    s.flap(entry(ENDPOINT_TYPE, "c2", "v2"));
    const ra = s.next(a);
    const rb = s.next(b);
    expect(names(ra)).toEqual(["c2"]);
    expect(names(rb)).toEqual(["c1", "c2"]);
  });
});
