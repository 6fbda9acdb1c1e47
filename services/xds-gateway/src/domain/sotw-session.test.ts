import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, type ResourceTypeUrl, ROUTE_TYPE } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { FleetSnapshot } from "./fleet-snapshot.js";
import { ResourceEntry } from "./resource-entry.js";
import { type SotwRequest, SotwSession } from "./sotw-session.js";
import { requestedNames, SubscriptionRegistry } from "./subscription.js";

const entry = (typeUrl: ResourceTypeUrl, name: string, content = "v1", wildcard = true) =>
  new ResourceEntry(typeUrl, name, "public", wildcard, "a/ns/svc", Buffer.from(`${name}=${content}`));

function fleetWith(...entries: ResourceEntry[]): FleetSnapshot {
  const f = new FleetSnapshot("edge", new Set(["public"]));
  f.apply(
    entries.map((e) => ({ typeUrl: e.typeUrl, name: e.name, before: undefined, after: e })),
    0,
  );
  return f;
}

type RequestFields = Omit<Partial<SotwRequest>, "resourceNames"> & { resourceNames?: readonly string[] };

function req(typeUrl: ResourceTypeUrl, over: RequestFields = {}): SotwRequest {
  const { resourceNames = [], ...rest } = over;
  return { typeUrl, versionInfo: "", responseNonce: "", errorDetail: undefined, ...rest, resourceNames: requestedNames(resourceNames) };
}

function setup(...entries: ResourceEntry[]) {
  const fleet = fleetWith(...entries);
  const session = new SotwSession(new SubscriptionRegistry());
  const next = () => session.next((t) => fleet.table(t));
  return { fleet, session, next };
}

describe("SotwSession", () => {
  it("answers a wildcard LDS/CDS request with everything, and an ACK with nothing", () => {
    const { session, next } = setup(entry(CLUSTER_TYPE, "c1"), entry(CLUSTER_TYPE, "c2"));
    expect(session.onRequest(req(CLUSTER_TYPE))).toEqual({ kind: "initial", typeUrl: CLUSTER_TYPE });
    const r = next();
    expect(r?.entries.map((e) => e.name).sort()).toEqual(["c1", "c2"]);
    expect(next()).toBeUndefined();
    const ack = session.onRequest(req(CLUSTER_TYPE, { versionInfo: r?.version, responseNonce: r?.nonce }));
    expect(ack).toEqual({ kind: "ack", typeUrl: CLUSTER_TYPE, version: r?.version, entries: r?.entries });
    expect(next()).toBeUndefined();
  });

  it("serves named subscriptions, and names that appear later when they appear", () => {
    const { fleet, session, next } = setup(entry(ENDPOINT_TYPE, "c1"));
    session.onRequest(req(ENDPOINT_TYPE, { resourceNames: ["c1", "c2"] }));
    const first = next();
    expect(first?.entries.map((e) => e.name)).toEqual(["c1"]);
    session.onRequest(req(ENDPOINT_TYPE, { versionInfo: first?.version, responseNonce: first?.nonce, resourceNames: ["c1", "c2"] }));
    const c2 = entry(ENDPOINT_TYPE, "c2");
    fleet.apply([{ typeUrl: ENDPOINT_TYPE, name: "c2", before: undefined, after: c2 }], 1);
    session.markDirty(ENDPOINT_TYPE);
    // EDS is updated by parts: the client keeps c1 and gets only what appeared.
    expect(next()?.entries.map((e) => e.name)).toEqual(["c2"]);
  });

  it("never resends a NACKed version, and sends the next change", () => {
    const { fleet, session, next } = setup(entry(CLUSTER_TYPE, "c1"));
    session.onRequest(req(CLUSTER_TYPE));
    const v1 = next();
    session.onRequest(req(CLUSTER_TYPE, { versionInfo: v1?.version, responseNonce: v1?.nonce }));
    const bad = entry(CLUSTER_TYPE, "c1", "bad");
    fleet.apply([{ typeUrl: CLUSTER_TYPE, name: "c1", before: undefined, after: bad }], 1);
    session.markDirty(CLUSTER_TYPE);
    const v2 = next();
    expect(v2?.version).not.toBe(v1?.version);
    const nack = session.onRequest(
      req(CLUSTER_TYPE, { versionInfo: v1?.version, responseNonce: v2?.nonce, errorDetail: { code: 3, message: "no" } }),
    );
    expect(nack).toMatchObject({ kind: "nack", version: v2?.version, error: { message: "no" } });
    expect(next()).toBeUndefined();
    // Unrelated churn that resolves to the same rejected content is not sent either.
    fleet.apply([{ typeUrl: CLUSTER_TYPE, name: "c1", before: undefined, after: entry(CLUSTER_TYPE, "c1", "bad") }], 2);
    session.markDirty(CLUSTER_TYPE);
    expect(next()).toBeUndefined();
    fleet.apply([{ typeUrl: CLUSTER_TYPE, name: "c1", before: undefined, after: entry(CLUSTER_TYPE, "c1", "fixed") }], 3);
    session.markDirty(CLUSTER_TYPE);
    const v3 = next();
    expect(v3?.version).not.toBe(v2?.version);
    expect(v3?.entries[0]?.version).toBe(entry(CLUSTER_TYPE, "c1", "fixed").version);
  });

  it("ignores a request answering a superseded response", () => {
    const { fleet, session, next } = setup(entry(CLUSTER_TYPE, "c1"));
    session.onRequest(req(CLUSTER_TYPE));
    const v1 = next();
    fleet.apply([{ typeUrl: CLUSTER_TYPE, name: "c2", before: undefined, after: entry(CLUSTER_TYPE, "c2") }], 1);
    session.markDirty(CLUSTER_TYPE);
    const v2 = next();
    expect(session.onRequest(req(CLUSTER_TYPE, { versionInfo: v1?.version, responseNonce: v1?.nonce }))).toMatchObject({ kind: "stale" });
    expect(next()).toBeUndefined();
    expect(session.onRequest(req(CLUSTER_TYPE, { versionInfo: v2?.version, responseNonce: v2?.nonce }))).toMatchObject({ kind: "ack" });
  });

  it("treats the first request per type as initial even with a nonce from an old stream", () => {
    const { session, next } = setup(entry(LISTENER_TYPE, "l1"));
    expect(session.onRequest(req(LISTENER_TYPE, { responseNonce: "from-old-stream" }))).toMatchObject({ kind: "initial" });
    expect(next()?.entries).toHaveLength(1);
  });

  it("sends nothing on reconnect when the client already has the version (any replica computes it alike)", () => {
    const entries = [entry(CLUSTER_TYPE, "c1"), entry(CLUSTER_TYPE, "c2"), entry(ENDPOINT_TYPE, "c1")];
    const a = setup(...entries);
    a.session.onRequest(req(CLUSTER_TYPE));
    const cds = a.next();
    a.session.onRequest(req(ENDPOINT_TYPE, { resourceNames: ["c1", "c2"] }));
    const eds = a.next();
    // Another replica, which learned the same resources in another order.
    const b = setup(...[...entries].reverse());
    b.session.onRequest(req(CLUSTER_TYPE, { versionInfo: cds?.version }));
    b.session.onRequest(req(ENDPOINT_TYPE, { versionInfo: eds?.version, resourceNames: ["c2", "c1"] }));
    expect(b.next()).toBeUndefined();
  });

  it("pushes in make-before-break order and resends endpoints after a cluster change", () => {
    const { fleet, session, next } = setup(
      entry(CLUSTER_TYPE, "c1"),
      entry(ENDPOINT_TYPE, "c1"),
      entry(LISTENER_TYPE, "l1"),
      entry(ROUTE_TYPE, "r1"),
    );
    session.onRequest(req(LISTENER_TYPE));
    session.onRequest(req(ROUTE_TYPE, { resourceNames: ["r1"] }));
    session.onRequest(req(ENDPOINT_TYPE, { resourceNames: ["c1"] }));
    session.onRequest(req(CLUSTER_TYPE));
    const order: ResourceTypeUrl[] = [];
    const sent = new Map<ResourceTypeUrl, { version: string; nonce: string }>();
    for (let r = next(); r; r = next()) {
      order.push(r.typeUrl);
      sent.set(r.typeUrl, r);
    }
    expect(order).toEqual([CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE]);
    for (const [t, r] of sent)
      session.onRequest(
        req(t, {
          versionInfo: r.version,
          responseNonce: r.nonce,
          resourceNames: t === ENDPOINT_TYPE ? ["c1"] : t === ROUTE_TYPE ? ["r1"] : [],
        }),
      );
    // The cluster changes, its endpoints do not: Envoy still needs them to finish warming.
    fleet.apply([{ typeUrl: CLUSTER_TYPE, name: "c1", before: undefined, after: entry(CLUSTER_TYPE, "c1", "v2") }], 1);
    session.markDirty(CLUSTER_TYPE);
    const cds = next();
    const eds = next();
    expect([cds?.typeUrl, eds?.typeUrl]).toEqual([CLUSTER_TYPE, ENDPOINT_TYPE]);
    expect(eds?.version).toBe(sent.get(ENDPOINT_TYPE)?.version);
    // Same content, but a response of its own: never the nonce the stream already had.
    expect(eds?.nonce).not.toBe(sent.get(ENDPOINT_TYPE)?.nonce);
    expect(next()).toBeUndefined();
  });

  it("does not give API listeners (named only) to wildcard subscribers, but does to those naming them", () => {
    const { session, next } = setup(entry(LISTENER_TYPE, "tcp-1.2.3.4-80"), entry(LISTENER_TYPE, "grpc.svc.ns.a", "v1", false));
    session.onRequest(req(LISTENER_TYPE));
    expect(next()?.entries.map((e) => e.name)).toEqual(["tcp-1.2.3.4-80"]);
    const named = setup(entry(LISTENER_TYPE, "tcp-1.2.3.4-80"), entry(LISTENER_TYPE, "grpc.svc.ns.a", "v1", false));
    named.session.onRequest(req(LISTENER_TYPE, { resourceNames: ["grpc.svc.ns.a"] }));
    expect(named.next()?.entries.map((e) => e.name)).toEqual(["grpc.svc.ns.a"]);
  });

  it("shares one response (bytes and nonce) among streams with the same subscription", () => {
    const fleet = fleetWith(entry(CLUSTER_TYPE, "c1"));
    const registry = new SubscriptionRegistry();
    const s1 = new SotwSession(registry);
    const s2 = new SotwSession(registry);
    s1.onRequest(req(ENDPOINT_TYPE, { resourceNames: ["c1", "c2"] }));
    s2.onRequest(req(ENDPOINT_TYPE, { resourceNames: ["c2", "c1"] }));
    const r1 = s1.next((t) => fleet.table(t));
    const r2 = s2.next((t) => fleet.table(t));
    expect(r1).toBe(r2);
    expect(r1?.sotwResponse()).toBe(r2?.sotwResponse());
    expect(registry.size).toBe(1);
    s1.close();
    s2.close();
    expect(registry.size).toBe(0);
  });

  describe("EDS and RDS updates carry only what changed", () => {
    const names = Array.from({ length: 50 }, (_, i) => `c${i}`);
    const eds = (name: string, content = "v1") => entry(ENDPOINT_TYPE, name, content, false);
    const change = (fleet: FleetSnapshot, e: ResourceEntry, gen: number) =>
      fleet.apply([{ typeUrl: e.typeUrl, name: e.name, before: fleet.table(e.typeUrl).get(e.name), after: e }], gen);

    function synced(fleet: FleetSnapshot, registry = new SubscriptionRegistry()) {
      const session = new SotwSession(registry);
      const next = () => session.next((t) => fleet.table(t));
      session.onRequest(req(ENDPOINT_TYPE, { resourceNames: names }));
      const first = next();
      session.onRequest(req(ENDPOINT_TYPE, { versionInfo: first?.version, responseNonce: first?.nonce, resourceNames: names }));
      return { session, next, first };
    }

    it("sends the complete set first, then one changed assignment alone, versioned as the complete set", () => {
      const fleet = fleetWith(...names.map((n) => eds(n)));
      const { session, next, first } = synced(fleet);
      expect(first?.entries).toHaveLength(50);
      expect(first?.complete).toBe(true);
      change(fleet, eds("c7", "v2"), 1);
      session.markDirty(ENDPOINT_TYPE);
      const update = next();
      expect(update?.entries.map((e) => e.name)).toEqual(["c7"]);
      expect(update?.complete).toBe(false);
      // The version names what the client holds after applying it: what a fresh stream
      // (or another replica) computes for the complete set.
      const fresh = synced(fleet).first;
      expect(update?.version).toBe(fresh?.version);
      expect(fresh?.entries).toHaveLength(50);
      expect(next()).toBeUndefined();
    });

    it("gives names newly asked for in full, and nothing else again", () => {
      const fleet = fleetWith(...names.map((n) => eds(n)), eds("late"));
      const { session, next, first } = synced(fleet);
      session.onRequest(
        req(ENDPOINT_TYPE, { versionInfo: first?.version, responseNonce: first?.nonce, resourceNames: [...names, "late"] }),
      );
      expect(next()?.entries.map((e) => e.name)).toEqual(["late"]);
    });

    it("gives names asked for while the first response is unacknowledged, once that response is ACKed", () => {
      // A reconnecting Envoy asks for the EDS names it had, then for more once the new CDS
      // arrives, before the first EDS response reached it; its ACK of that response carries the
      // larger set. The added names must still be sent (found replacing a gateway under a stream).
      const fleet = fleetWith(...names.map((n) => eds(n)), eds("late"));
      const session = new SotwSession(new SubscriptionRegistry());
      const next = () => session.next((t) => fleet.table(t));
      session.onRequest(req(ENDPOINT_TYPE, { resourceNames: names }));
      const first = next();
      expect(first?.entries).toHaveLength(50);
      session.onRequest(req(ENDPOINT_TYPE, { resourceNames: [...names, "late"] }));
      session.onRequest(
        req(ENDPOINT_TYPE, { versionInfo: first?.version, responseNonce: first?.nonce, resourceNames: [...names, "late"] }),
      );
      const update = next();
      expect(update?.entries.map((e) => e.name)).toEqual(["late"]);
      // Versioned as the complete set a fresh stream subscribing to all 51 names gets.
      const fresh = new SotwSession(new SubscriptionRegistry());
      fresh.onRequest(req(ENDPOINT_TYPE, { resourceNames: [...names, "late"] }));
      expect(update?.version).toBe(fresh.next((t) => fleet.table(t))?.version);
    });

    it("resends a changed cluster's assignment (Envoy keeps it warming), not the others", () => {
      const fleet = fleetWith(entry(CLUSTER_TYPE, "c1"), entry(CLUSTER_TYPE, "c2"), ...names.map((n) => eds(n)));
      const session = new SotwSession(new SubscriptionRegistry());
      const next = () => session.next((t) => fleet.table(t));
      session.onRequest(req(CLUSTER_TYPE));
      session.onRequest(req(ENDPOINT_TYPE, { resourceNames: names }));
      for (let r = next(); r; r = next())
        session.onRequest(
          req(r.typeUrl, { versionInfo: r.version, responseNonce: r.nonce, resourceNames: r.typeUrl === ENDPOINT_TYPE ? names : [] }),
        );
      change(fleet, entry(CLUSTER_TYPE, "c2", "v2"), 1);
      session.markDirty(CLUSTER_TYPE);
      expect(next()?.typeUrl).toBe(CLUSTER_TYPE);
      const refresh = next();
      expect(refresh?.typeUrl).toBe(ENDPOINT_TYPE);
      expect(refresh?.entries.map((e) => e.name)).toEqual(["c2"]);
    });

    it("after a NACK, the next update carries the rejected change again with the new one", () => {
      const fleet = fleetWith(...names.map((n) => eds(n)));
      const { session, next } = synced(fleet);
      change(fleet, eds("c1", "bad"), 1);
      session.markDirty(ENDPOINT_TYPE);
      const bad = next();
      session.onRequest(req(ENDPOINT_TYPE, { responseNonce: bad?.nonce, resourceNames: names, errorDetail: { code: 3, message: "no" } }));
      expect(next()).toBeUndefined();
      change(fleet, eds("c2", "v2"), 2);
      session.markDirty(ENDPOINT_TYPE);
      expect(
        next()
          ?.entries.map((e) => e.name)
          .sort(),
      ).toEqual(["c1", "c2"]);
    });

    it("a stream further behind than the table remembers gets the complete set", () => {
      const fleet = fleetWith(...names.map((n) => eds(n)));
      const { session, next } = synced(fleet);
      for (let i = 1; i <= 300; i++) change(fleet, eds(`other${i}`), i);
      change(fleet, eds("c3", "v2"), 301);
      session.markDirty(ENDPOINT_TYPE);
      expect(next()?.entries).toHaveLength(50);
    });

    it("streams in the same situation share one update (bytes and nonce)", () => {
      const fleet = fleetWith(...names.map((n) => eds(n)));
      const registry = new SubscriptionRegistry();
      const a = synced(fleet, registry);
      const b = synced(fleet, registry);
      change(fleet, eds("c9", "v2"), 1);
      a.session.markDirty(ENDPOINT_TYPE);
      b.session.markDirty(ENDPOINT_TYPE);
      const ra = a.next();
      expect(ra).toBe(b.next());
      expect(ra?.sotwResponse()).toBe(ra?.sotwResponse());
    });

    it("recognises an ACK repeating the subscription without decoding its names", () => {
      const fleet = fleetWith(...names.map((n) => eds(n)));
      const { session, next } = synced(fleet);
      change(fleet, eds("c4", "v2"), 1);
      session.markDirty(ENDPOINT_TYPE);
      const update = next();
      const fingerprinted = requestedNames(names);
      const ack: SotwRequest = {
        ...req(ENDPOINT_TYPE, { versionInfo: update?.version, responseNonce: update?.nonce }),
        resourceNames: {
          fingerprint: fingerprinted.fingerprint,
          list: () => {
            throw new Error("names decoded");
          },
        },
      };
      expect(session.onRequest(ack)).toMatchObject({ kind: "ack" });
      expect(next()).toBeUndefined();
    });
  });
});
