import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { ApiException, type V1Service } from "@kubernetes/client-node";
import type { Allocation } from "@sharedlb/contracts";
import type { SupervisedInformer } from "@sharedlb/kube";
import { createRootLogger } from "@sharedlb/runtime";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { EventRecorder } from "./adapters/event-recorder.js";
import type { ReportInput, StatusPublisher } from "./adapters/status-publisher.js";
import type { ServiceWriter } from "./adapters/service-writer.js";
import type { StatusPatch } from "./domain/status-plan.js";
import { reporterMetrics } from "./metrics.js";
import { type PassResult, Reporter } from "./reporter.js";

// The reconcile pass with fakes around it: how it reacts to the apiserver's answers
// (conflicts, a re-created Service, outages). The real apiserver is in the integration tests.

const svc = (uid: string, rv: string): V1Service => ({
  metadata: { namespace: "shop", name: "web", uid, resourceVersion: rv },
  spec: { type: "LoadBalancer", loadBalancerClass: "sharedlb.io/envoy", ports: [{ port: 443, protocol: "TCP" }] },
  status: {},
});

const allocation: Allocation = {
  cluster: "a",
  namespace: "shop",
  name: "web",
  uid: "u1",
  state: "Allocated",
  pool: "public",
  ip: "203.0.113.10",
  ports: [{ name: "https", protocol: "TCP", port: 443, externalPort: 443, nodePort: 31443 }],
  reason: "",
  message: "",
  resourceSequence: 3,
};

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
  const services = { get: () => opts.cached, list: () => [opts.cached] } as unknown as SupervisedInformer<V1Service>;
  const writer = {
    apply: (_ns: string, _name: string, patch: StatusPatch) => {
      writes.push(patch);
      return opts.apply(writes.length, patch);
    },
    read: opts.read ?? (() => Promise.resolve(opts.cached)),
  } as unknown as ServiceWriter;
  const recorder = { record: async () => true } as unknown as EventRecorder;
  const publisher = { publish: async (r: ReportInput) => void reports.push(r) } as unknown as StatusPublisher;
  const reporter = new Reporter(
    {
      cluster: "a",
      scope: { loadBalancerClass: "sharedlb.io/envoy", defaultClass: false },
      replica: "t",
      concurrency: 4,
      ackWaitMs: 30_000,
    },
    services,
    writer,
    recorder,
    publisher,
    {} as JetStreamClient,
    {} as JetStreamManager,
    reporterMetrics(new Registry(), () => 0),
    createRootLogger("test", "silent"),
  );
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
