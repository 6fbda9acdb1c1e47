import type { Programmed } from "@sharedlb/contracts";
import { describe, expect, it } from "vitest";
import type { FleetSnapshot } from "../domain/fleet-snapshot.js";
import type { ProgrammedObject } from "../domain/programmed-object.js";
import { FLUSH_SLICE_MS, nextFlushDelay, ProgrammedReporter, type ProgrammedSource } from "./programmed-reporter.js";

describe("nextFlushDelay", () => {
  it("keeps the interval after a quick flush and keeps reporting under a fifth of the time after a slow one", () => {
    expect(nextFlushDelay(250, 3)).toBe(250);
    const slow = 400;
    const delay = nextFlushDelay(250, slow);
    expect(slow / (slow + delay)).toBeLessThanOrEqual(0.2);
  });
});

/** `n` Services, all with new counts to report in one fleet. */
function manyChanged(n: number): ProgrammedSource {
  const ids = Array.from({ length: n }, (_, i) => `service/a/ns/s${i}`);
  let dirty = new Set(ids);
  const programmed = {
    takeDirty: () => {
      const d = dirty;
      dirty = new Set();
      return d;
    },
    counter: () => () => ({ acked: 1, nacked: 0, pending: 0, error: undefined }),
  };
  const fleet = { name: "edge", pools: new Set(["public"]), programmed } as unknown as FleetSnapshot;
  return {
    fleetSnapshots: () => [fleet],
    object: (id): ProgrammedObject => ({ kind: "service", cluster: "a", namespace: "ns", name: id.slice(id.lastIndexOf("/") + 1), version: 1 }),
    takeChangedObjects: () => new Set(),
  };
}

describe("a timed flush", () => {
  it("works in slices with the event loop free in between, and reports every object once", async () => {
    const sent: Programmed[] = [];
    // Each reading of the clock is 1 ms later: a slice reports about FLUSH_SLICE_MS objects.
    let clock = 0;
    const reporter = new ProgrammedReporter(manyChanged(100), { publish: (r) => sent.push(r) }, () => {}, () => clock++);
    let busy: number | undefined;
    const finished = new Promise<void>((resolve) =>
      reporter.flushInSlices((ms) => {
        busy = ms;
        resolve();
      }),
    );
    const afterFirstSlice = sent.length;
    expect(afterFirstSlice).toBeGreaterThan(0);
    expect(afterFirstSlice).toBeLessThanOrEqual(FLUSH_SLICE_MS);
    // Something the loop had to do meanwhile (an ADS write, a NATS message) runs before the flush ends.
    const between = await new Promise<number>((resolve) => setImmediate(() => resolve(sent.length)));
    expect(between).toBeLessThan(100);
    await finished;
    expect(new Set(sent.map((r) => r.name)).size).toBe(100);
    expect(sent).toHaveLength(100);
    expect(busy).toBeGreaterThanOrEqual(100);
  });

  it("stops between slices when the reporter stops", async () => {
    const sent: Programmed[] = [];
    let clock = 0;
    const reporter = new ProgrammedReporter(manyChanged(100), { publish: (r) => sent.push(r) }, () => {}, () => clock++);
    let done = false;
    reporter.flushInSlices(() => {
      done = true;
    });
    reporter.stop();
    const reported = sent.length;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sent.length).toBe(reported);
    expect(done).toBe(false);
  });
});
