import type { V1EndpointSlice, V1Node, V1Service } from "@kubernetes/client-node";
import { subjects, validateData } from "@sharedlb/contracts";
import { describe, expect, it } from "vitest";
import { decide, desiredEndpoints, desiredNode, desiredService, type PublishedEntry } from "./desired.js";
import { refFromSubject, refKey, refSubject } from "./keys.js";
import { publishedEntryFrom } from "./published.js";

const scope = { loadBalancerClass: "sharedlb.io/envoy", defaultClass: false };

function service(over: { spec?: V1Service["spec"]; annotations?: Record<string, string>; rv?: string; uid?: string } = {}): V1Service {
  return {
    metadata: {
      namespace: "shop",
      name: "web",
      uid: over.uid ?? "u1",
      resourceVersion: over.rv ?? "10",
      annotations: over.annotations ?? {},
    },
    spec: {
      type: "LoadBalancer",
      loadBalancerClass: "sharedlb.io/envoy",
      ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443, appProtocol: "grpc" }],
      ...over.spec,
    },
  };
}

describe("service normalization", () => {
  it("publishes normalized data with only sharedlb.io annotations, never the one written back", () => {
    const d = desiredService(
      "a",
      service({
        annotations: {
          "sharedlb.io/port-policy": "any",
          "sharedlb.io/allocated-ports": "443/TCP=443",
          "kubectl.kubernetes.io/last-applied-configuration": "{}",
        },
      }),
      scope,
    );
    expect(d?.type).toBe("io.sharedlb.service.v1");
    expect(d?.data).toEqual({
      cluster: "a",
      namespace: "shop",
      name: "web",
      uid: "u1",
      ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443, appProtocol: "grpc" }],
      externalTrafficPolicy: "Cluster",
      healthCheckNodePort: 0,
      loadBalancerClass: "sharedlb.io/envoy",
      annotations: { "sharedlb.io/port-policy": "any" },
    });
    expect(validateData("io.sharedlb.service.v1", d?.data)).toBe(true);
  });

  it("publishes source ranges, session affinity, IP families and loadBalancerIP as the spec has them", () => {
    const d = desiredService(
      "a",
      service({
        spec: {
          loadBalancerSourceRanges: [" 10.1.0.0/16", "010.002.0.0/16 ", "2001:db8::/32"],
          sessionAffinity: "ClientIP",
          ipFamilies: ["IPv6", "IPv4"],
          ipFamilyPolicy: "RequireDualStack",
          loadBalancerIP: "203.0.113.7",
        },
      }),
      scope,
    );
    expect(d?.data).toMatchObject({
      loadBalancerSourceRanges: ["10.1.0.0/16", "10.2.0.0/16", "2001:db8::/32"],
      sessionAffinity: "ClientIP",
      ipFamilies: ["IPv6", "IPv4"],
      ipFamilyPolicy: "RequireDualStack",
      loadBalancerIP: "203.0.113.7",
    });
    expect(validateData("io.sharedlb.service.v1", d?.data)).toBe(true);
  });

  it("leaves the additions out when the spec has none, and never drops a range it cannot read", () => {
    const plain = desiredService("a", service({ spec: { loadBalancerSourceRanges: [], loadBalancerIP: "" } }), scope);
    for (const field of ["loadBalancerSourceRanges", "sessionAffinity", "ipFamilies", "ipFamilyPolicy", "loadBalancerIP"]) {
      expect(plain?.data).not.toHaveProperty(field);
    }
    const odd = desiredService("a", service({ spec: { loadBalancerSourceRanges: ["10.0.0.0/8", "nonsense"] } }), scope);
    expect(odd?.data.loadBalancerSourceRanges).toEqual(["10.0.0.0/8", "nonsense"]);
    expect(validateData("io.sharedlb.service.v1", odd?.data)).toBe(false);
  });

  it("serves only its class; class-less ones only as default implementation; never another class", () => {
    expect(desiredService("a", service({ spec: { type: "LoadBalancer", loadBalancerClass: "other.io/lb" } }), scope)).toBeUndefined();
    expect(desiredService("a", service({ spec: { type: "ClusterIP", loadBalancerClass: undefined } }), scope)).toBeUndefined();
    const classless = service({ spec: { type: "LoadBalancer", loadBalancerClass: undefined } });
    expect(desiredService("a", classless, scope)).toBeUndefined();
    const asDefault = { ...scope, defaultClass: true };
    expect(desiredService("a", classless, asDefault)?.data.loadBalancerClass).toBe("sharedlb.io/envoy");
    expect(desiredService("a", service({ spec: { type: "LoadBalancer", loadBalancerClass: "other.io/lb" } }), asDefault)).toBeUndefined();
  });

  it("keeps healthCheckNodePort only for Local, and nodePort 0 when none is allocated", () => {
    const d = desiredService(
      "a",
      service({ spec: { externalTrafficPolicy: "Local", healthCheckNodePort: 32000, ports: [{ port: 53, protocol: "UDP" }] } }),
      scope,
    );
    expect(d?.data).toMatchObject({
      externalTrafficPolicy: "Local",
      healthCheckNodePort: 32000,
      ports: [{ name: "", protocol: "UDP", port: 53, nodePort: 0 }],
    });
  });

  it("derives the event id from uid and resourceVersion: the same version over the same state, the same id", () => {
    const prev = { uid: "u1", fingerprint: "old", id: "a:service:u1:9.x" };
    const id = (rv: string, published: PublishedEntry | null = prev) => {
      const action = decide(desiredService("a", service({ rv }), scope), published ?? undefined);
      return action.kind === "publish" ? action.id : "";
    };
    expect(id("10")).toMatch(/^a:service:u1:10\.[0-9a-f]{8}$/);
    expect(id("10")).toBe(id("10"));
    expect(id("11")).not.toBe(id("10"));
    // The stream holds another value: a new id, so the republish lands.
    expect(id("10", null)).not.toBe(id("10"));
    // The stream lost the value: found empty at a later stream state, a new id again.
    const lost = (absentId: string) => {
      const action = decide(desiredService("a", service({ rv: "10" }), scope), undefined, absentId);
      return action.kind === "publish" ? action.id : "";
    };
    expect(lost("absent@5")).toBe(lost("absent@5"));
    expect(lost("absent@9")).not.toBe(lost("absent@5"));
    // A status write bumps the resourceVersion but not the normalized content.
    expect(desiredService("a", service({ rv: "11" }), scope)?.fingerprint).toBe(
      desiredService("a", service({ rv: "10" }), scope)?.fingerprint,
    );
  });
});

describe("node normalization", () => {
  const node = (ready: string, labels: Record<string, string> = {}): V1Node => ({
    metadata: { name: "worker-1.example", uid: "n1", resourceVersion: "5", labels },
    status: {
      addresses: [
        { type: "Hostname", address: "worker-1" },
        { type: "InternalIP", address: "10.0.0.5" },
        { type: "ExternalIP", address: "198.51.100.5" },
      ],
      conditions: [{ type: "Ready", status: ready }],
    },
  });

  it("reports addresses, readiness and the exclusion label", () => {
    expect(desiredNode("a", node("True"))?.data).toEqual({
      cluster: "a",
      name: "worker-1.example",
      addresses: { internal: "10.0.0.5", external: "198.51.100.5" },
      ready: true,
      excluded: false,
    });
    expect(desiredNode("a", node("Unknown"))?.data.ready).toBe(false);
    expect(desiredNode("a", node("True", { "node.kubernetes.io/exclude-from-external-load-balancers": "" }))?.data.excluded).toBe(true);
  });
});

describe("endpoints of Local Services", () => {
  const slice = (name: string, rv: string, endpoints: NonNullable<V1EndpointSlice["endpoints"]>): V1EndpointSlice => ({
    addressType: "IPv4",
    metadata: { namespace: "shop", name, resourceVersion: rv, labels: { "kubernetes.io/service-name": "web" } },
    endpoints,
  });
  const local = service({ spec: { externalTrafficPolicy: "Local", healthCheckNodePort: 32000 } });

  it("lists the nodes with at least one ready endpoint, sorted; unset ready counts as ready", () => {
    const slices = [
      slice("web-a", "1", [
        { addresses: ["10.1.0.1"], nodeName: "n2", conditions: { ready: true } },
        { addresses: ["10.1.0.2"], nodeName: "n3", conditions: { ready: false } },
      ]),
      slice("web-b", "2", [
        { addresses: ["10.1.0.3"], nodeName: "n1" },
        { addresses: ["10.1.0.4"], nodeName: "n2", conditions: { ready: true } },
        { addresses: ["10.1.0.5"] },
      ]),
    ];
    const d = desiredEndpoints("a", local, slices, scope);
    expect(d?.data).toEqual({ cluster: "a", namespace: "shop", name: "web", readyNodes: ["n1", "n2"] });
    expect(validateData("io.sharedlb.endpoints.v1", d?.data)).toBe(true);
  });

  it("exists only for Local Services of ours", () => {
    expect(desiredEndpoints("a", service(), [], scope)).toBeUndefined();
    expect(desiredEndpoints("a", undefined, [], scope)).toBeUndefined();
    expect(desiredEndpoints("a", local, [], scope)?.data.readyNodes).toEqual([]);
  });

  it("never repeats an id when the content goes back to an earlier state", () => {
    const one = [slice("web-a", "1", [{ addresses: ["10.1.0.1"], nodeName: "n1" }])];
    const two = [...one, slice("web-b", "2", [{ addresses: ["10.1.0.2"], nodeName: "n2" }])];
    const publish = (slices: V1EndpointSlice[], prev: PublishedEntry | undefined) => {
      const action = decide(desiredEndpoints("a", local, slices, scope), prev);
      if (action.kind !== "publish") throw new Error("expected a publish");
      return { uid: action.desired.uid, fingerprint: action.desired.fingerprint, id: action.id };
    };
    const first = publish(one, undefined);
    const second = publish(two, first);
    const third = publish(one, second);
    expect(new Set([first.id, second.id, third.id]).size).toBe(3);
    expect(third.fingerprint).toBe(first.fingerprint);
    // The same transition attempted again (retry, restart, other replica): the same id.
    expect(publish(one, second).id).toBe(third.id);
  });
});

describe("decide", () => {
  const d = desiredService("a", service(), scope);

  it("publishes what the stream lacks or holds differently, nothing when equal", () => {
    expect(decide(d, undefined).kind).toBe("publish");
    expect(decide(d, { uid: "u1", fingerprint: "other", id: "x" }).kind).toBe("publish");
    expect(decide(d, { uid: "u1", fingerprint: null, id: "x" }).kind).toBe("publish");
    expect(decide(d, { uid: "u1", fingerprint: d?.fingerprint ?? "", id: "x" }).kind).toBe("none");
  });

  it("tombstones what is gone, once, with an id that follows from the last event", () => {
    expect(decide(undefined, { uid: "u1", fingerprint: "f", id: "a:service:u1:10" })).toEqual({
      kind: "tombstone",
      uid: "u1",
      id: "a:service:u1:10:deleted",
    });
    expect(decide(undefined, { uid: "u1", fingerprint: null, id: "a:service:u1:10:deleted" }).kind).toBe("none");
    expect(decide(undefined, undefined).kind).toBe("none");
  });

  it("recovers the uid of nodes and endpoints from our own event ids", () => {
    const node = desiredNode("a", { metadata: { name: "n1", uid: "node-uid", resourceVersion: "3" } });
    const action = decide(node, undefined);
    const id = action.kind === "publish" ? action.id : "";
    const entry = publishedEntryFrom({
      specversion: "1.0",
      id,
      source: "sharedlb/watcher/a",
      type: "io.sharedlb.node.v1",
      subject: "a//n1",
      time: new Date().toISOString(),
      datacontenttype: "application/json",
      data: node?.data as NonNullable<typeof node>["data"] & { ready: boolean },
    } as Parameters<typeof publishedEntryFrom>[0]);
    expect(entry).toEqual({ uid: "node-uid", fingerprint: node?.fingerprint, id });
  });
});

describe("keys and subjects", () => {
  it("maps keys to subjects and back, for this cluster's own kinds only", () => {
    const ref = { kind: "node" as const, namespace: "", name: "worker-1.example" };
    const subject = refSubject("a", ref);
    expect(subject).toBe("lb.resource.a.node.worker-1_example");
    expect(refFromSubject("a", subject)).toEqual(ref);
    expect(refKey(ref)).toBe("node//worker-1.example");
    expect(refFromSubject("b", subject)).toBeUndefined();
    expect(refFromSubject("a", "lb.resource.a.route.shop.web")).toBeUndefined();
    // L7 subjects are this watcher's too (a resync tombstones vanished ones); dotted names round-trip.
    for (const kind of ["ingress", "gateway", "httproute", "grpcroute", "tlsroute", "secret"] as const) {
      const l7 = { kind, namespace: "shop", name: "web.v2" };
      expect(refSubject("a", l7)).toBe(subjects.l7Resource("a", kind, "shop", "web.v2"));
      expect(refFromSubject("a", refSubject("a", l7))).toEqual(l7);
      expect(refFromSubject("b", refSubject("a", l7))).toBeUndefined();
    }
  });
});
