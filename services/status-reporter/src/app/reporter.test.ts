import { ApiException, type V1Service } from "@kubernetes/client-node";
import type { Allocation } from "@sharedlb/contracts";
import { createRootLogger } from "@sharedlb/runtime";
import { allocation as allocationFor, service } from "@sharedlb/testing/resources";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { ReportInput } from "../adapters/status-publisher.js";
import type { StatusPatch } from "../domain/status-plan.js";
import { reporterMetrics } from "../metrics.js";
import type { AllocationFeed, ServiceCache, StatusWriter } from "./ports.js";
import { type PassResult, Reporter } from "./reporter.js";

// The reconcile pass with fakes around it: how it reacts to the apiserver's answers
// (conflicts, a re-created Service, outages). The real apiserver is in the integration tests.

const svc = (uid: string, rv: string): V1Service => ({
  metadata: { namespace: "shop", name: "web", uid, resourceVersion: rv },
  spec: { type: "LoadBalancer", loadBalancerClass: "sharedlb.io/envoy", ports: [{ port: 443, protocol: "TCP" }] },
  status: {},
});

const allocation: Allocation = allocationFor(
  service("a", "shop", "web", { uid: "u1", ports: [{ name: "https", protocol: "TCP", port: 443, nodePort: 31443 }] }),
  "203.0.113.10",
  { resourceSequence: 3 },
);

const apiError = (code: number) => new ApiException(code, `HTTP ${code}`, JSON.stringify({ message: `status ${code}` }), {});

interface Harness {
  pass(): Promise<PassResult>;
  writes: StatusPatch[];
  reports: ReportInput[];
}

function harness(opts: {
  cached: V1Service;
  apply: (n: number, patch: StatusPatch) => Promise<V1Service>;
  read?: () => Promise<V1Service>;
}): Harness {
  const writes: StatusPatch[] = [];
  const reports: ReportInput[] = [];
  const services: ServiceCache = {
    start: () => undefined,
    waitForSync: async () => undefined,
    stop: async () => undefined,
    get: () => opts.cached,
    list: () => [opts.cached],
  };
  const writer: StatusWriter = {
    apply: (_ns, _name, patch) => {
      writes.push(patch);
      return opts.apply(writes.length, patch);
    },
    read: opts.read ?? (() => Promise.resolve(opts.cached)),
  };
  const idleFeed: AllocationFeed = {
    replay: async () => [],
    prepare: async () => undefined,
    consume: () => ({ ready: true, drain: async () => undefined }),
  };
  const reporter = new Reporter({
    scope: { loadBalancerClass: "sharedlb.io/envoy", defaultClass: false },
    concurrency: 4,
    services,
    allocations: idleFeed,
    writer,
    recorder: { record: async () => true, recordOnNode: async () => "recorded" },
    reports: { publish: async (r: ReportInput) => void reports.push(r) },
    metrics: reporterMetrics(new Registry(), () => 0),
    log: createRootLogger("test", "silent"),
    now: () => new Date("2026-12-01T00:00:00Z"),
  });
  const internals = reporter as unknown as {
    remember(a: Allocation, seq: number): void;
    reconcile(key: string, report: boolean): Promise<PassResult>;
  };
  internals.remember(allocation, 7);
  return { pass: () => internals.reconcile("shop/web", true), writes, reports };
}

describe("a reconcile pass", () => {
  it("writes once, then finds nothing to do against the object the write returned", async () => {
    let written: V1Service | undefined;
    const h = harness({
      cached: svc("u1", "10"),
      apply: async (_n, patch) => {
        written = {
          ...svc("u1", "11"),
          metadata: { ...svc("u1", "11").metadata, annotations: { "sharedlb.io/allocated-ports": patch.annotation ?? "" } },
        };
        written.status = {
          loadBalancer: { ingress: patch.body.status.loadBalancer?.ingress ?? [] },
          conditions: patch.body.status.conditions as never,
        };
        return written;
      },
    });
    expect(await h.pass()).toEqual({ outcome: "Written", transient: false });
    expect(await h.pass()).toEqual({ outcome: "Unchanged", transient: false });
    expect(h.writes).toHaveLength(1);
    expect(h.reports.map((r) => r.outcome)).toEqual(["Written", "Unchanged"]);
  });

  it("retries a conflict on a fresh copy", async () => {
    const h = harness({
      cached: svc("u1", "10"),
      apply: async (n) => {
        if (n === 1) throw apiError(409);
        return svc("u1", "12");
      },
      read: async () => svc("u1", "11"),
    });
    expect(await h.pass()).toEqual({ outcome: "Written", transient: false });
    expect(h.writes).toHaveLength(2);
  });

  it("does not write to a re-created Service when the uid precondition fails", async () => {
    const h = harness({
      cached: svc("u1", "10"),
      apply: async () => {
        throw apiError(422);
      },
      read: async () => svc("u2", "15"),
    });
    expect(await h.pass()).toEqual({ outcome: "Unchanged", transient: false });
    expect(h.writes).toHaveLength(1);
    expect(h.reports[0]?.condition.reason).toBe("NoAllocation");
  });

  it("reports an outage as a transient failure, and a rejection as a permanent one", async () => {
    const outage = harness({ cached: svc("u1", "10"), apply: async () => Promise.reject(apiError(503)) });
    expect(await outage.pass()).toEqual({ outcome: "Failed", transient: true });
    expect(outage.reports[0]).toMatchObject({ outcome: "Failed", error: expect.stringContaining("503") });
    const forbidden = harness({ cached: svc("u1", "10"), apply: async () => Promise.reject(apiError(403)) });
    expect(await forbidden.pass()).toEqual({ outcome: "Failed", transient: false });
  });
});

describe("allocations from the feed", () => {
  function started(apply: () => Promise<V1Service>) {
    let handle: Parameters<AllocationFeed["consume"]>[0] | undefined;
    const writes: string[] = [];
    const cached = svc("u1", "10");
    const reporter = new Reporter({
      scope: { loadBalancerClass: "sharedlb.io/envoy", defaultClass: false },
      concurrency: 4,
      services: { start: () => undefined, waitForSync: async () => undefined, stop: async () => undefined, get: () => cached, list: () => [] },
      allocations: {
        replay: async () => [],
        prepare: async () => undefined,
        consume: (h) => {
          handle = h;
          return { ready: true, drain: async () => undefined };
        },
      },
      writer: {
        apply: (ns, name) => {
          writes.push(`${ns}/${name}`);
          return apply();
        },
        read: async () => cached,
      },
      recorder: { record: async () => true, recordOnNode: async () => "recorded" },
      reports: { publish: async () => undefined },
      metrics: reporterMetrics(new Registry(), () => 0),
      log: createRootLogger("test", "silent"),
      now: () => new Date("2026-12-01T00:00:00Z"),
    });
    return { reporter, writes, deliver: (seq: number) => reporter.start().then(() => handle?.({ allocation, seq, publishedAtMs: 0 })) };
  }

  it("writes the Service of a delivered allocation and acknowledges it", async () => {
    const r = started(async () => svc("u1", "11"));
    expect(await r.deliver(8)).toBe("done");
    expect(r.writes).toEqual(["shop/web"]);
    await r.reporter.stop();
  });

  it("asks for a delayed redelivery when the apiserver is down", async () => {
    const r = started(async () => Promise.reject(apiError(503)));
    expect(await r.deliver(8)).toBe("backoff");
    await r.reporter.stop();
  });
});
