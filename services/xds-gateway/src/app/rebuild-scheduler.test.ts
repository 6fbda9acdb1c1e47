import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RebuildScheduler, type RebuildTrigger } from "./rebuild-scheduler.js";

// When a burst's rebuild runs, on fake timers (the clock is Date's, which they move too).
const WINDOW = { quietMs: 10, maxDelayMs: 100 };

let runs: { trigger: RebuildTrigger; waited: number; at: number }[];
let s: RebuildScheduler;
let t0: number;

beforeEach(() => {
  vi.useFakeTimers();
  t0 = Date.now();
  runs = [];
  s = new RebuildScheduler(
    WINDOW,
    (trigger, waited) => runs.push({ trigger, waited, at: Date.now() - t0 }),
    () => Date.now(),
  );
});

afterEach(() => {
  vi.useRealTimers();
});

/** Advances the clock by `ms`, running the timers and immediates that fall due. */
const advance = (ms: number) => vi.advanceTimersByTime(ms);
// Fake timers run an immediate queued by a timer one millisecond later (their guard against
// loops); the real event loop runs it in the same turn, after reading I/O.
const TICK = 1;

describe("RebuildScheduler", () => {
  it("builds a lone change once the quiet window has passed", () => {
    s.changed();
    advance(WINDOW.quietMs);
    expect(runs).toEqual([]);
    advance(TICK);
    expect(runs).toEqual([{ trigger: "quiet", waited: 10 + TICK, at: 10 + TICK }]);
    advance(1000);
    expect(runs).toHaveLength(1);
  });

  it("a burst whose changes come closer than the quiet window is one rebuild, after its last change", () => {
    for (let i = 0; i < 20; i++) {
      s.changed();
      advance(4);
    }
    // The last change came at 76 ms.
    advance(6);
    expect(runs).toEqual([]);
    advance(TICK);
    expect(runs).toEqual([{ trigger: "quiet", waited: 86 + TICK, at: 86 + TICK }]);
  });

  it("holds the rebuild while a stream says more messages are on their way, and builds once it is drained", () => {
    s.backlogged("LB_RESOURCES", 40);
    s.changed();
    advance(60);
    expect(runs).toEqual([]);
    // The message that drains the stream is a change too.
    s.backlogged("LB_RESOURCES", 0);
    s.changed();
    advance(WINDOW.quietMs);
    expect(runs).toEqual([]);
    advance(TICK);
    expect(runs).toEqual([{ trigger: "quiet", waited: 70 + TICK, at: 70 + TICK }]);
  });

  it("waits for every stream's backlog", () => {
    s.backlogged("LB_RESOURCES", 3);
    s.backlogged("LB_ALLOCATIONS", 5);
    s.changed();
    s.backlogged("LB_RESOURCES", 0);
    advance(50);
    expect(runs).toEqual([]);
    s.backlogged("LB_ALLOCATIONS", 0);
    advance(TICK);
    expect(runs).toEqual([{ trigger: "quiet", waited: 50 + TICK, at: 50 + TICK }]);
  });

  it("never waits longer than the max delay after the first change, however the changes keep coming", () => {
    for (let i = 0; i < 60; i++) {
      s.changed();
      advance(5);
    }
    // The second rebuild's first change came at 105 ms.
    expect(runs.map((r) => [r.trigger, r.at])).toEqual([
      ["max_delay", 100 + TICK],
      ["max_delay", 205 + TICK],
    ]);
  });

  it("a backlog left by a stream that went silent holds one rebuild at most, until the max delay", () => {
    s.backlogged("LB_RESOURCES", 7);
    s.changed();
    advance(WINDOW.maxDelayMs + TICK);
    expect(runs).toEqual([{ trigger: "max_delay", waited: 100 + TICK, at: 100 + TICK }]);
    s.changed();
    advance(WINDOW.quietMs + TICK);
    expect(runs.map((r) => [r.trigger, r.at])).toEqual([
      ["max_delay", 100 + TICK],
      ["quiet", 110 + 2 * TICK],
    ]);
  });

  it("nothing runs after cancel (the changes were built by other means)", () => {
    s.changed();
    s.cancel();
    advance(1000);
    expect(runs).toEqual([]);
  });
});
