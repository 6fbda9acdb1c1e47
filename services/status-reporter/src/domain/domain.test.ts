import type { V1Service } from "@kubernetes/client-node";
import type { Allocation } from "@sharedlb/contracts";
import { describe, expect, it } from "vitest";
import { decideStatus } from "./desired-status.js";
import { eventName } from "./event-name.js";
import { planStatus } from "./status-plan.js";

const scope = { loadBalancerClass: "sharedlb.io/envoy", defaultClass: false };
const now = new Date("2026-11-22T01:02:03.456Z");

function service(
  over: Partial<{ uid: string; type: string; cls: string; status: V1Service["status"]; annotations: Record<string, string> }> = {},
): V1Service {
  return {
    metadata: { namespace: "shop", name: "web", uid: over.uid ?? "u1", resourceVersion: "7", annotations: over.annotations ?? {} },
    spec: {
      type: over.type ?? "LoadBalancer",
      loadBalancerClass: over.cls ?? "sharedlb.io/envoy",
      ports: [{ port: 443, protocol: "TCP" }],
    },
    status: over.status ?? {},
  };
}

function allocation(over: Partial<Allocation> = {}): Allocation {
  return {
    cluster: "a",
    namespace: "shop",
    name: "web",
    uid: "u1",
    state: "Allocated",
    pool: "public",
    ip: "203.0.113.10",
    ports: [
      { name: "dns", protocol: "UDP", port: 53, externalPort: 10053, nodePort: 30053 },
      { name: "https", protocol: "TCP", port: 443, externalPort: 443, nodePort: 31443 },
    ],
    reason: "",
    message: "",
    resourceSequence: 12,
    allocationVersion: 1,
    ...over,
  };
}

/** Applies a planned patch the way the apiserver would (enough for these tests). */
function applied(svc: V1Service, plan: NonNullable<ReturnType<typeof planStatus>>): V1Service {
  const out = structuredClone(svc);
  const ann = { ...(out.metadata?.annotations ?? {}) };
  for (const [k, v] of Object.entries(plan.body.metadata.annotations ?? {})) {
    if (v === null) delete ann[k];
    else ann[k] = v;
  }
  out.metadata = { ...out.metadata, annotations: ann };
  const status = out.status ?? {};
  if (plan.body.status.loadBalancer)
    status.loadBalancer = plan.body.status.loadBalancer.ingress ? { ingress: plan.body.status.loadBalancer.ingress } : {};
  for (const c of plan.body.status.conditions ?? []) {
    const rest = (status.conditions ?? []).filter((x) => x.type !== c.type);
    status.conditions = c.$patch === "delete" ? rest : [...rest, c as never];
  }
  out.status = status;
  return out;
}

describe("allocated Services", () => {
  it("get one ingress per address of a dual-stack allocation, in its order, with the same ports; a note joins the condition message", () => {
    const dual = allocation({ ips: ["203.0.113.10", "2001:db8::10"] });
    const v = decideStatus(service(), dual, scope);
    expect(v.status.ingress.map((i) => [i.ip, i.ipMode, i.ports])).toEqual([
      ["203.0.113.10", "Proxy", [{ port: 443, protocol: "TCP" }, { port: 10053, protocol: "UDP" }]],
      ["2001:db8::10", "Proxy", [{ port: 443, protocol: "TCP" }, { port: 10053, protocol: "UDP" }]],
    ]);
    expect(v.status.allocatedPorts).toBe("53/UDP=10053,443/TCP=443");
    expect(v.status.condition?.message).toBe("203.0.113.10, 2001:db8::10 from pool public: 53/UDP=10053,443/TCP=443");
    const prefer = decideStatus(service(), allocation({ message: "PreferDualStack: no IPv6 pool serves this Service" }), scope);
    expect(prefer.status.ingress).toHaveLength(1);
    expect(prefer.status.condition?.message).toBe("203.0.113.10 from pool public: 53/UDP=10053,443/TCP=443 (PreferDualStack: no IPv6 pool serves this Service)");
  });

  it("get one ingress with ipMode Proxy and the external ports, the annotation, a True condition and an Allocated event", () => {
    const v = decideStatus(service(), allocation(), scope);
    expect(v.action).toBe("write");
    const plan = planStatus(service(), v.status, now);
    expect(plan?.body).toEqual({
      metadata: { uid: "u1", annotations: { "sharedlb.io/allocated-ports": "53/UDP=10053,443/TCP=443" } },
      status: {
        loadBalancer: {
          ingress: [
            {
              ip: "203.0.113.10",
              ipMode: "Proxy",
              ports: [
                { port: 443, protocol: "TCP" },
                { port: 10053, protocol: "UDP" },
              ],
            },
          ],
        },
        conditions: [
          {
            type: "sharedlb.io/Allocated",
            status: "True",
            reason: "Allocated",
            message: "203.0.113.10 from pool public: 53/UDP=10053,443/TCP=443",
            lastTransitionTime: "2026-11-22T01:02:03Z",
          },
        ],
      },
    });
    expect(v.status.event).toEqual({
      type: "Normal",
      reason: "Allocated",
      note: "Allocated 203.0.113.10 from pool public: 53/UDP=10053,443/TCP=443",
    });
  });

  it("are not written again when they already carry it (no update storm)", () => {
    const v = decideStatus(service(), allocation(), scope);
    const plan = planStatus(service(), v.status, now);
    const written = applied(service(), plan as NonNullable<typeof plan>);
    expect(planStatus(written, decideStatus(written, allocation(), scope).status, new Date(now.getTime() + 60_000))).toBeUndefined();
  });

  it("keep other controllers' conditions and the transition time while the status stays True", () => {
    const other = {
      type: "example.com/Ready",
      status: "True",
      reason: "Fine",
      message: "",
      lastTransitionTime: new Date("2026-01-01T00:00:00Z"),
    };
    const before = service({
      status: {
        conditions: [
          other,
          {
            type: "sharedlb.io/Allocated",
            status: "True",
            reason: "Allocated",
            message: "old",
            lastTransitionTime: new Date("2026-11-01T00:00:00Z"),
          },
        ],
      },
    });
    const plan = planStatus(before, decideStatus(before, allocation(), scope).status, now);
    expect(plan?.body.status.conditions).toHaveLength(1);
    expect(plan?.body.status.conditions?.[0]).toMatchObject({ type: "sharedlb.io/Allocated", lastTransitionTime: "2026-11-01T00:00:00Z" });
  });
});

describe("failed and pending Services", () => {
  it("get a False condition with the allocator's reason and message, no ingress, no annotation, and a warning event", () => {
    const prior = applied(
      service(),
      planStatus(service(), decideStatus(service(), allocation(), scope).status, now) as NonNullable<ReturnType<typeof planStatus>>,
    );
    const failed = allocation({
      state: "Failed",
      ip: "",
      ports: [],
      reason: "InvalidAnnotation",
      message: 'sharedlb.io/ports: "x=y" is not <service port>=<external port>',
    });
    const v = decideStatus(prior, failed, scope);
    const plan = planStatus(prior, v.status, now);
    expect(plan?.body.status.loadBalancer).toEqual({ ingress: null });
    expect(plan?.body.metadata.annotations).toEqual({ "sharedlb.io/allocated-ports": null });
    expect(plan?.body.status.conditions?.[0]).toMatchObject({
      status: "False",
      reason: "InvalidAnnotation",
      message: expect.stringContaining('"x=y"'),
    });
    expect(v.status.event).toMatchObject({
      type: "Warning",
      reason: "AllocationFailed",
      note: expect.stringMatching(/^InvalidAnnotation: .*"x=y"/),
    });
  });

  it("say a Pending Service waits", () => {
    const v = decideStatus(
      service(),
      allocation({ state: "Pending", ip: "", ports: [], reason: "PoolExhausted", message: "pool small is full" }),
      scope,
    );
    expect(v.summary).toMatchObject({ status: "False", reason: "PoolExhausted", message: expect.stringContaining("waiting") });
  });
});

describe("what is not applied, and what is cleared", () => {
  it("never gives a re-created Service (other uid) the old one's allocation", () => {
    expect(decideStatus(service({ uid: "u2" }), allocation(), scope).action).toBe("leave");
  });

  it("clears its marks when the Service leaves the type, and when the allocation is Released", () => {
    const allocated = applied(
      service(),
      planStatus(service(), decideStatus(service(), allocation(), scope).status, now) as NonNullable<ReturnType<typeof planStatus>>,
    );
    const released = decideStatus(allocated, allocation({ state: "Released", ip: "", ports: [] }), scope);
    const plan = planStatus(allocated, released.status, now);
    expect(plan?.body).toEqual({
      metadata: { uid: "u1", annotations: { "sharedlb.io/allocated-ports": null } },
      status: { loadBalancer: { ingress: null }, conditions: [{ type: "sharedlb.io/Allocated", $patch: "delete" }] },
    });
    const clusterIp = { ...allocated, spec: { ...allocated.spec, type: "ClusterIP" }, status: { ...allocated.status, loadBalancer: {} } };
    const v = decideStatus(clusterIp, allocation(), scope);
    expect(v.action).toBe("write");
    expect(planStatus(clusterIp, v.status, now)?.changes).toEqual({ ingress: false, condition: true, annotation: true, notices: false });
  });

  it("leaves Services of another class alone, even with --default-class", () => {
    const foreign = service({ cls: "other.io/lb" });
    expect(decideStatus(foreign, allocation(), { ...scope, defaultClass: true }).action).toBe("leave");
  });
});

describe("event names", () => {
  it("are stable per Service, allocation message and reason", () => {
    expect(eventName("web", "u1", 5, "Allocated")).toBe(eventName("web", "u1", 5, "Allocated"));
    expect(eventName("web", "u1", 6, "Allocated")).not.toBe(eventName("web", "u1", 5, "Allocated"));
    expect(eventName("web", "u1", 5, "Allocated")).toMatch(/^web\.sharedlb-[0-9a-f]{16}$/);
  });
});
