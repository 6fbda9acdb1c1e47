import { CLUSTER_TYPE, LISTENER_TYPE, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { ProgrammedTracker, type TrackedStream } from "./programmed-tracker.js";
import { ResourceEntry } from "./resource-entry.js";

const WEB = "service/a/shop/web";
const API = "httproute/a/shop/api";

const entry = (typeUrl: ResourceTypeUrl, name: string, content: string, objects: string[], wildcard = true) =>
  new ResourceEntry(typeUrl, name, "public", wildcard, "a/shop/web", Buffer.from(`${name}=${content}`), objects);

/** Streams asking for the same share a coverage token, as streams of one interned subscription do. */
const tokens = new Map<string, object>();

/** A stream that subscribes to the names given, and to every wildcard resource unless told not to. */
const stream = (nodeId: string, names: string[] = [], wildcard = true): TrackedStream => {
  const key = JSON.stringify([wildcard, names]);
  const token = tokens.get(key) ?? {};
  tokens.set(key, token);
  return { nodeId, covers: (e) => (wildcard && e.wildcard) || names.includes(e.name), coverage: () => token };
};

function tracker(...entries: ResourceEntry[]) {
  const t = new ProgrammedTracker();
  t.applyChanges(entries.map((e) => ({ typeUrl: e.typeUrl, name: e.name, before: undefined, after: e })));
  return t;
}

describe("ProgrammedTracker", () => {
  const listener = entry(LISTENER_TYPE, "tcp-192.0.2.10-80", "v1", [WEB]);
  const cluster = entry(CLUSTER_TYPE, "a/shop/web/tcp-80", "v1", [WEB]);

  it("counts an Envoy as acked only once it applied every resource of the object", () => {
    const t = tracker(listener, cluster);
    const e1 = stream("envoy-1");
    const e2 = stream("envoy-2");
    t.connected(e1);
    t.connected(e2);
    expect(t.counts(WEB, 1)).toEqual({ acked: 0, nacked: 0, pending: 2, error: undefined });
    t.sent(e1, [cluster]);
    t.acked(e1, [cluster]);
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 0, pending: 2 });
    t.sent(e1, [listener]);
    t.acked(e1, [listener]);
    expect(t.counts(WEB, 1)).toEqual({ acked: 1, nacked: 0, pending: 1, error: undefined });
  });

  it("reports a NACK with Envoy's text and the node, and a fixed version as acked", () => {
    const t = tracker(listener, cluster);
    const e1 = stream("envoy-1");
    t.connected(e1);
    t.acked(e1, [listener, cluster]);
    t.takeDirty();
    const bad = entry(LISTENER_TYPE, listener.name, "v2", [WEB]);
    t.applyChanges([{ typeUrl: LISTENER_TYPE, name: listener.name, before: listener, after: bad }]);
    expect(t.takeDirty()).toEqual(new Set([WEB]));
    t.sent(e1, [bad, cluster]);
    // The complete set carried the cluster it already applied: that stays applied.
    t.nacked(e1, [bad, cluster], { typeUrl: LISTENER_TYPE, nodeId: "envoy-1", message: "invalid listener" });
    expect(t.counts(WEB, 1)).toEqual({
      acked: 0,
      nacked: 1,
      pending: 0,
      error: { typeUrl: LISTENER_TYPE, nodeId: "envoy-1", message: "invalid listener" },
    });
    const fixed = entry(LISTENER_TYPE, listener.name, "v3", [WEB]);
    t.applyChanges([{ typeUrl: LISTENER_TYPE, name: listener.name, before: bad, after: fixed }]);
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 0, nacked: 0, pending: 1 });
    t.sent(e1, [fixed]);
    t.acked(e1, [fixed]);
    expect(t.counts(WEB, 1)).toEqual({ acked: 1, nacked: 0, pending: 0, error: undefined });
  });

  it("ignores answers about versions that are no longer current", () => {
    const t = tracker(listener);
    const e1 = stream("envoy-1");
    t.connected(e1);
    const next = entry(LISTENER_TYPE, listener.name, "v2", [WEB]);
    t.applyChanges([{ typeUrl: LISTENER_TYPE, name: listener.name, before: listener, after: next }]);
    t.acked(e1, [listener]);
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 0, pending: 1 });
  });

  it("one response's entries answered by many streams: a resource removed or replaced meanwhile is not counted for what took its place", () => {
    const other = entry(CLUSTER_TYPE, "b/shop/api/tcp-80", "v1", [API]);
    const t = tracker(listener, cluster);
    const [e1, e2, e3] = [stream("envoy-1"), stream("envoy-2"), stream("envoy-3")];
    for (const e of [e1, e2, e3]) t.connected(e);
    const response = [listener, cluster];
    t.acked(e1, response);
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 1, pending: 2 });
    // The cluster goes and another resource takes its answers' column.
    t.applyChanges([
      { typeUrl: CLUSTER_TYPE, name: cluster.name, before: cluster, after: undefined },
      { typeUrl: CLUSTER_TYPE, name: other.name, before: undefined, after: other },
    ]);
    t.acked(e2, response);
    expect(t.counts(API, 1), "an ACK of the old cluster is not one of its successor").toMatchObject({ acked: 0, pending: 3 });
    // The cluster comes back with the same bytes (a new entry, answered by no one yet): an
    // ACK of the old response is one of these bytes.
    t.applyChanges([
      { typeUrl: CLUSTER_TYPE, name: cluster.name, before: undefined, after: entry(CLUSTER_TYPE, cluster.name, "v1", [WEB]) },
    ]);
    t.acked(e3, response);
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 1, pending: 2 });
  });

  it("counts only the streams that subscribe to an object's resources, and forgets closed ones", () => {
    const api = entry(LISTENER_TYPE, "api.example.com", "v1", [API], false);
    const t = tracker(listener, api);
    const envoy = stream("envoy-1");
    const grpc = stream("grpc-client", ["api.example.com"], false);
    t.connected(envoy);
    t.connected(grpc);
    t.acked(envoy, [listener]);
    t.acked(grpc, [api]);
    expect(t.counts(API, 1)).toMatchObject({ acked: 1, pending: 0 });
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 1, pending: 0 });
    t.takeDirty();
    t.closed(grpc);
    expect(t.takeDirty()).toContain(API);
    expect(t.counts(API, 1)).toMatchObject({ acked: 0, pending: 0 });
  });

  it("keeps answers when equal bytes are attributed anew, and forgets an object whose resources are gone", () => {
    const t = tracker(listener);
    const e1 = stream("envoy-1");
    t.connected(e1);
    t.acked(e1, [listener]);
    const shared = entry(LISTENER_TYPE, listener.name, "v1", [WEB, API]);
    t.applyChanges([{ typeUrl: LISTENER_TYPE, name: listener.name, before: listener, after: shared }]);
    expect(t.counts(API, 1)).toMatchObject({ acked: 1, pending: 0 });
    t.applyChanges([{ typeUrl: LISTENER_TYPE, name: listener.name, before: shared, after: undefined }]);
    expect(t.counts(WEB, 1)).toBeUndefined();
  });

  it("a rejected shared resource counts against the object that changed, not against one it had applied as it is", () => {
    const routes = entry(LISTENER_TYPE, "http-192.0.2.10-80", "v1", [WEB, API]);
    const t = tracker(routes);
    const e1 = stream("envoy-1");
    t.connected(e1);
    t.acked(e1, [routes]);
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 1 });
    expect(t.counts(API, 1)).toMatchObject({ acked: 1 });
    // API's generation 2 changes the shared resource, and the Envoy rejects it.
    const changed = entry(LISTENER_TYPE, routes.name, "v2", [WEB, API]);
    t.applyChanges([{ typeUrl: LISTENER_TYPE, name: routes.name, before: routes, after: changed }]);
    t.nacked(e1, [changed], { typeUrl: LISTENER_TYPE, nodeId: "envoy-1", message: "bad route of api" });
    expect(t.counts(API, 2)).toMatchObject({ nacked: 1, error: { message: "bad route of api" } });
    expect(t.counts(WEB, 1)).toEqual({ acked: 1, nacked: 0, pending: 0, error: undefined });
  });

  it("one counter for many objects: those built from the same resources share the streams' answers, not their own versions", () => {
    const GUIDES = "httproute/a/shop/guides";
    const routes = entry(LISTENER_TYPE, "http-192.0.2.10-80", "v1", [WEB, API, GUIDES]);
    const apiCluster = entry(CLUSTER_TYPE, "a/shop/api/http", "v1", [API]);
    const t = tracker(routes, apiCluster);
    const [e1, e2, e3] = [stream("envoy-1"), stream("envoy-2"), stream("envoy-3", [], false)];
    for (const s of [e1, e2, e3]) t.connected(s);
    t.acked(e1, [routes, apiCluster]);
    t.acked(e2, [routes]);
    const one = t.counter();
    expect([one(WEB, 1), one(API, 1), one(GUIDES, 1)]).toEqual([
      { acked: 2, nacked: 0, pending: 0, error: undefined },
      { acked: 1, nacked: 0, pending: 1, error: undefined },
      { acked: 2, nacked: 0, pending: 0, error: undefined },
    ]);
    // GUIDES' generation 2 changes the shared resource; envoy-1 rejects it. WEB, counted
    // first by the same counter, had applied it as it is; GUIDES had not.
    const changed = entry(LISTENER_TYPE, routes.name, "v2", [WEB, API, GUIDES]);
    t.applyChanges([{ typeUrl: LISTENER_TYPE, name: routes.name, before: routes, after: changed }]);
    t.nacked(e1, [changed], { typeUrl: LISTENER_TYPE, nodeId: "envoy-1", message: "bad route of guides" });
    t.acked(e2, [changed]);
    const two = t.counter();
    expect(two(WEB, 1)).toEqual({ acked: 2, nacked: 0, pending: 0, error: undefined });
    expect(two(GUIDES, 2)).toEqual({
      acked: 1,
      nacked: 1,
      pending: 0,
      error: { typeUrl: LISTENER_TYPE, nodeId: "envoy-1", message: "bad route of guides" },
    });
    expect(two(API, 1)).toEqual({ acked: 1, nacked: 0, pending: 1, error: undefined });
    expect([t.counts(WEB, 1), t.counts(GUIDES, 2), t.counts(API, 1)]).toEqual([two(WEB, 1), two(GUIDES, 2), two(API, 1)]);
  });

  it("a resource re-sent for another object leaves the objects that did not change applied; gaining a resource starts over", () => {
    const routes = entry(LISTENER_TYPE, "http-192.0.2.10-80", "v1", [WEB, API]);
    const t = tracker(routes);
    const [e1, e2] = [stream("envoy-1"), stream("envoy-2")];
    for (const s of [e1, e2]) t.connected(s);
    t.acked(e1, [routes]);
    t.acked(e2, [routes]);
    expect([t.counts(WEB, 1), t.counts(API, 1)]).toMatchObject([{ acked: 2 }, { acked: 2 }]);
    // API's generation 2 changes the shared resource; neither Envoy has answered yet.
    const v2 = entry(LISTENER_TYPE, routes.name, "v2", [WEB, API]);
    t.applyChanges([{ typeUrl: LISTENER_TYPE, name: routes.name, before: routes, after: v2 }]);
    expect(t.counts(WEB, 1), "WEB is served as it is by both").toEqual({ acked: 2, nacked: 0, pending: 0, error: undefined });
    expect(t.counts(API, 2)).toEqual({ acked: 0, nacked: 0, pending: 2, error: undefined });
    t.acked(e1, [v2]);
    expect(t.counts(API, 2)).toMatchObject({ acked: 1, pending: 1 });
    // WEB gains a resource (a cluster of its own): nobody has applied WEB as it is now.
    t.applyChanges([{ typeUrl: CLUSTER_TYPE, name: cluster.name, before: undefined, after: cluster }]);
    expect(t.counts(WEB, 1)).toEqual({ acked: 0, nacked: 0, pending: 2, error: undefined });
    t.acked(e2, [v2, cluster]);
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 1, pending: 1 });
  });

  it("a rejected version sent again is pending until answered; a send changes nothing for a stream that rejected nothing", () => {
    const t = tracker(listener, cluster);
    const e1 = stream("envoy-1");
    const e2 = stream("envoy-2");
    t.connected(e1);
    t.connected(e2);
    t.acked(e2, [listener, cluster]);
    t.acked(e1, [cluster]);
    t.nacked(e1, [listener], { typeUrl: LISTENER_TYPE, nodeId: "envoy-1", message: "port in use" });
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 1, nacked: 1, pending: 0 });
    t.takeDirty();
    t.sent(e2, [listener, cluster]);
    expect(t.takeDirty()).toEqual(new Set());
    t.sent(e1, [listener, cluster]);
    expect(t.takeDirty()).toEqual(new Set([WEB]));
    expect(t.counts(WEB, 1)).toEqual({ acked: 1, nacked: 0, pending: 1, error: undefined });
    t.acked(e1, [listener, cluster]);
    expect(t.counts(WEB, 1)).toEqual({ acked: 2, nacked: 0, pending: 0, error: undefined });
  });

  it("counts answers about an equal copy of the current resource built before a re-attribution", () => {
    const t = tracker(listener);
    const e1 = stream("envoy-1");
    t.connected(e1);
    const copy = entry(LISTENER_TYPE, listener.name, "v1", [WEB]);
    t.acked(e1, [copy]);
    expect(t.counts(WEB, 1)).toMatchObject({ acked: 1, pending: 0 });
  });
});
