import type { ProbeTarget } from "@sharedlb/serving";
import { describe, expect, it } from "vitest";
import { InvalidProbeThresholdsError, NodeProbeVerdicts, type ProbeOutcome } from "./node-probe-verdicts.js";

const target = (node: string, kind: ProbeTarget["kind"] = "kubeProxy"): ProbeTarget => ({
  key: `a ${node} 10256`,
  cluster: "a",
  node,
  address: node,
  port: 10256,
  kind,
});
const OK: ProbeOutcome = { ok: true };
const FAIL: ProbeOutcome = { ok: false, message: "HTTP 503" };

describe("NodeProbeVerdicts", () => {
  it("a signal never probed, or only passing, is healthy", () => {
    const v = new NodeProbeVerdicts({ unhealthy: 2, healthy: 2 });
    expect(v.record(target("w1"), OK)).toBe(false);
    expect(v.failing().size).toBe(0);
  });

  it("turns unhealthy after `unhealthy` consecutive failures and healthy after `healthy` consecutive passes", () => {
    const v = new NodeProbeVerdicts({ unhealthy: 3, healthy: 2 });
    const t = target("w1");
    expect([FAIL, FAIL].map((o) => v.record(t, o))).toEqual([false, false]);
    expect(v.record(t, FAIL)).toBe(true);
    expect([...v.failing().values()]).toEqual([{ cluster: "a", node: "w1", message: "HTTP 503" }]);
    expect(v.record(t, OK)).toBe(false);
    expect(v.record(t, OK)).toBe(true);
    expect(v.failing().size).toBe(0);
  });

  it("damps flapping: a result against the verdict, broken by one that agrees, starts counting again", () => {
    const v = new NodeProbeVerdicts({ unhealthy: 2, healthy: 2 });
    const t = target("w1");
    const flips = [FAIL, OK, FAIL, OK, FAIL, OK].map((o) => v.record(t, o));
    expect(flips.some(Boolean)).toBe(false);
    expect(v.failing().size).toBe(0);
    v.record(t, FAIL);
    v.record(t, FAIL);
    expect([OK, FAIL, OK, FAIL].map((o) => v.record(t, o)).some(Boolean)).toBe(false);
    expect(v.failing().size).toBe(1);
  });

  it("forgets signals no longer probed and says when a failing one went", () => {
    const v = new NodeProbeVerdicts({ unhealthy: 1, healthy: 1 });
    v.record(target("w1"), FAIL);
    v.record(target("w2", "healthCheckNodePort"), OK);
    expect(v.failingCount("kubeProxy")).toBe(1);
    expect(v.retain(new Set([target("w1").key]))).toBe(false);
    expect(v.retain(new Set())).toBe(true);
    expect(v.failing().size).toBe(0);
  });

  it("refuses thresholds below one", () => {
    expect(() => new NodeProbeVerdicts({ unhealthy: 0, healthy: 1 })).toThrow(InvalidProbeThresholdsError);
  });
});
