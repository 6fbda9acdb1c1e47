import { describeDataErrors, type Programmed } from "@sharedlb/contracts";
import { NodeAddressPolicy, TenantView } from "@sharedlb/serving";
import { allocation, allocationData, node, nodeMsg, service, serviceMsg, tombstoneMsg } from "@sharedlb/testing/resources";
import { describe, expect, it } from "vitest";
import { Gateway } from "./gateway.js";
import { ProgrammedReporter } from "./programmed-reporter.js";

const FLEETS = [{ name: "edge", pools: new Set(["public"]) }];
const policy = NodeAddressPolicy.fromConfig({ lbClusterCidrs: ["10.96.0.0/12"] });

/** A live gateway with the address policy, and every lb.programmed report it publishes. */
function setup() {
  const g = new Gateway(FLEETS, {}, new TenantView({ addressPolicy: policy }));
  const sent: Programmed[] = [];
  const reporter = new ProgrammedReporter(g, { publish: (r) => sent.push(r) });
  const flush = () => {
    g.rebuild();
    const from = sent.length;
    reporter.flush();
    return sent.slice(from);
  };
  return { g, sent, flush };
}

const web = service("a", "shop", "web");

describe("lb.programmed warnings (what the tenant is told is not served)", () => {
  it("names each Node refused for its address, without the LB cluster's ranges, and re-reports when that changes without any ACK", () => {
    const { g, flush } = setup();
    g.applyResource(serviceMsg(web));
    g.applyResource(nodeMsg(node("a", "good", "10.0.0.1")));
    g.applyResource(nodeMsg(node("a", "self", "127.0.0.1")));
    g.applyResource(nodeMsg(node("a", "lb-pod", "10.96.0.7")));
    g.applyAllocation(allocationData(allocation(web, "203.0.113.10")));
    g.goLive();
    const [first, ...more] = flush();
    expect(more).toEqual([]);
    expect(first?.warnings).toEqual([
      { reason: "AddressRefused", node: "lb-pod", message: "Node lb-pod is not served: address 10.96.0.7 is inside the load balancer cluster's own networks" },
      { reason: "AddressRefused", node: "self", message: "Node self is not served: address 127.0.0.1 is loopback (127.0.0.0/8)" },
    ]);
    expect(JSON.stringify(first)).not.toContain("10.96.0.0/12");
    expect(describeDataErrors("io.sharedlb.programmed.v1", first)).toEqual([]);

    // The address is fixed: the endpoints change and the next report has no warnings.
    g.applyResource(nodeMsg(node("a", "self", "10.0.0.2")));
    const [fixed] = flush();
    expect(fixed?.warnings).toEqual([expect.objectContaining({ node: "lb-pod" })]);

    // A refused node deleted changes no endpoint at all: reported all the same.
    g.applyResource(tombstoneMsg("node", "a", "", "lb-pod"));
    const [cleared] = flush();
    expect(cleared).toBeDefined();
    expect(cleared?.warnings).toBeUndefined();
    expect(flush()).toEqual([]);
  });

  it("reports UDP ports left out under loadBalancerSourceRanges, also when nothing else of the Service is served", () => {
    const { g, flush } = setup();
    const dns = service("a", "shop", "dns", {
      ports: [{ name: "dns", protocol: "UDP", port: 53, nodePort: 30053 }],
      loadBalancerSourceRanges: ["10.1.0.0/16"],
    });
    const mixed = service("a", "shop", "mixed", {
      ports: [
        { name: "dns-tcp", protocol: "TCP", port: 53, nodePort: 30054 },
        { name: "dns", protocol: "UDP", port: 53, nodePort: 30055 },
        { name: "syslog", protocol: "UDP", port: 514, nodePort: 30514 },
      ],
      loadBalancerSourceRanges: ["10.1.0.0/16"],
    });
    for (const s of [dns, mixed]) g.applyResource(serviceMsg(s));
    g.applyResource(nodeMsg(node("a", "good", "10.0.0.1")));
    g.applyAllocation(allocationData(allocation(dns, "203.0.113.10")));
    g.applyAllocation(allocationData(allocation(mixed, "203.0.113.10", { resourceSequence: 2 })));
    g.goLive();
    const reports = new Map(flush().map((r) => [r.name, r]));
    expect(reports.get("dns")).toMatchObject({
      fleet: "edge",
      acked: 0,
      nacked: 0,
      pending: 0,
      warnings: [{ reason: "UDPSourceRangesUnsupported", ports: [{ protocol: "UDP", port: 53 }], message: expect.stringContaining("53/UDP") }],
    });
    expect(reports.get("mixed")?.warnings).toEqual([
      expect.objectContaining({
        reason: "UDPSourceRangesUnsupported",
        ports: [
          { protocol: "UDP", port: 53 },
          { protocol: "UDP", port: 514 },
        ],
      }),
    ]);

    // Source ranges removed: the UDP port is served and the warning goes.
    const open = { ...dns, loadBalancerSourceRanges: [] };
    g.applyResource(serviceMsg(open));
    const [served] = flush();
    expect(served?.name).toBe("dns");
    expect(served?.warnings).toBeUndefined();
  });

  it("bounds the warnings of a report and counts the Nodes left out", () => {
    const { g, flush } = setup();
    g.applyResource(serviceMsg(web));
    for (let i = 0; i < 40; i++) g.applyResource(nodeMsg(node("a", `n${String(i).padStart(2, "0")}`, "169.254.169.254")));
    g.applyAllocation(allocationData(allocation(web, "203.0.113.10")));
    g.goLive();
    const [report] = flush();
    expect(report?.warnings).toHaveLength(32);
    expect(report?.warnings?.[31]).toEqual({ reason: "AddressRefused", message: "9 more Node(s) not served because of their address" });
    expect(describeDataErrors("io.sharedlb.programmed.v1", report)).toEqual([]);
  });
});
