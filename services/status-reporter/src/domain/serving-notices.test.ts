import type { V1Service } from "@kubernetes/client-node";
import type { Allocation, Programmed, ProgrammedWarning } from "@sharedlb/contracts";
import { allocation as allocationFor, service as serviceResource } from "@sharedlb/testing/resources";
import { describe, expect, it } from "vitest";
import { decideStatus } from "./desired-status.js";
import {
  CONDITION_NODES_SERVED,
  CONDITION_SOURCE_RANGES_ENFORCED,
  currentWarnings,
  decideNotices,
  type HeldReport,
} from "./serving-notices.js";
import { planStatus } from "./status-plan.js";

const scope = { loadBalancerClass: "sharedlb.io/envoy", defaultClass: false };
const now = new Date("2026-12-02T04:00:00.000Z");

const refused: ProgrammedWarning = {
  reason: "AddressRefused",
  node: "self",
  message: "Node self is not served: address 127.0.0.1 is loopback (127.0.0.0/8)",
};
const udp: ProgrammedWarning = {
  reason: "UDPSourceRangesUnsupported",
  message: "port 53/UDP not served: loadBalancerSourceRanges cannot be enforced for UDP",
  ports: [{ protocol: "UDP", port: 53 }],
};

const report = (allocationVersion: number, warnings?: ProgrammedWarning[]): Programmed => ({
  cluster: "a",
  namespace: "shop",
  name: "web",
  kind: "service",
  allocationVersion,
  fleet: "edge",
  acked: 1,
  nacked: 0,
  pending: 0,
  ...(warnings ? { warnings } : {}),
});

const allocation: Allocation = allocationFor(
  serviceResource("a", "shop", "web", { uid: "u1", ports: [{ name: "dns", protocol: "UDP", port: 53, nodePort: 30053 }] }),
  "203.0.113.10",
  { resourceSequence: 12 },
);

function service(conditions: NonNullable<V1Service["status"]>["conditions"] = []): V1Service {
  return {
    metadata: {
      namespace: "shop",
      name: "web",
      uid: "u1",
      resourceVersion: "7",
      annotations: { "sharedlb.io/allocated-ports": "53/UDP=53" },
    },
    spec: { type: "LoadBalancer", loadBalancerClass: "sharedlb.io/envoy", ports: [{ port: 53, protocol: "UDP" }] },
    status: { loadBalancer: { ingress: [{ ip: "203.0.113.10", ipMode: "Proxy", ports: [{ port: 53, protocol: "UDP" }] }] }, conditions },
  };
}

const allocatedCondition = {
  type: "sharedlb.io/Allocated",
  status: "True",
  reason: "Allocated",
  message: "203.0.113.10 from pool public: 53/UDP=53",
  lastTransitionTime: new Date("2026-12-01T00:00:00Z"),
};

describe("what the tenant is told is not served", () => {
  it("takes the newest report about the current allocation, and nothing from reports about other versions", () => {
    const held: HeldReport[] = [
      { report: report(12, [refused]), seq: 5 },
      { report: report(12), seq: 9 },
      { report: report(13, [udp]), seq: 11 },
    ];
    expect(currentWarnings(held, 12)).toEqual([]);
    expect(currentWarnings(held, 13)).toEqual([udp]);
    expect(currentWarnings(held, 14)).toBeUndefined();
  });

  it("turns warnings into False conditions with stable reasons, a Node Event per refused Node and a Service Event for UDP", () => {
    const n = decideNotices([udp, refused, { reason: "SomethingNewer", message: "ignored by this version" }]);
    expect(n.conditions.get(CONDITION_NODES_SERVED)).toEqual({
      status: "False",
      reason: "AddressRefused",
      message: `1 Node(s) never receive this Service's traffic because of their address: ${refused.message}`,
    });
    expect(n.conditions.get(CONDITION_SOURCE_RANGES_ENFORCED)).toMatchObject({
      status: "False",
      reason: "UDPUnsupported",
      message: expect.stringContaining("53/UDP"),
    });
    expect(n.nodeEvents).toEqual([{ node: "self", reason: "AddressRefused", note: refused.message }]);
    expect(n.serviceEvent).toEqual({ reason: "UDPSourceRangesUnsupported", note: udp.message });
    const none = decideNotices([]);
    expect([...none.conditions.values()]).toEqual([undefined, undefined]);
    expect(none.nodeEvents).toEqual([]);
  });

  it("writes the conditions only when they differ, removes them when the cause goes, and leaves them while no report speaks", () => {
    const svc = service([allocatedCondition]);
    const notices = decideNotices([refused]);
    const plan = planStatus(svc, decideStatus(svc, allocation, scope, notices).status, now);
    expect(plan?.changes).toEqual({ ingress: false, condition: false, annotation: false, notices: true });
    expect(plan?.body.status.conditions).toEqual([
      {
        type: CONDITION_NODES_SERVED,
        status: "False",
        reason: "AddressRefused",
        message: expect.stringContaining("127.0.0.1"),
        lastTransitionTime: "2026-12-02T04:00:00Z",
      },
    ]);
    const carrying = service([allocatedCondition, ...((plan?.body.status.conditions ?? []) as never[])]);
    expect(planStatus(carrying, decideStatus(carrying, allocation, scope, notices).status, now)).toBeUndefined();
    // No report on this allocation yet: what the Service carries stays.
    expect(planStatus(carrying, decideStatus(carrying, allocation, scope, undefined).status, now)).toBeUndefined();
    // The cause is gone: removed.
    const fixed = planStatus(carrying, decideStatus(carrying, allocation, scope, decideNotices([])).status, now);
    expect(fixed?.body.status.conditions).toEqual([{ type: CONDITION_NODES_SERVED, $patch: "delete" }]);
    // Not served any more (Failed): removed with it.
    const failed = planStatus(
      carrying,
      decideStatus(carrying, { ...allocation, state: "Failed", reason: "PoolExhausted" }, scope, notices).status,
      now,
    );
    expect(failed?.body.status.conditions).toContainEqual({ type: CONDITION_NODES_SERVED, $patch: "delete" });
  });
});
