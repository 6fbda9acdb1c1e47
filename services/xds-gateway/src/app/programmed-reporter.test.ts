import { describe, expect, it } from "vitest";
import { nextFlushDelay } from "./programmed-reporter.js";

describe("nextFlushDelay", () => {
  it("keeps the interval after a quick flush and keeps reporting under a fifth of the time after a slow one", () => {
    expect(nextFlushDelay(250, 3)).toBe(250);
    const slow = 400;
    const delay = nextFlushDelay(250, slow);
    expect(slow / (slow + delay)).toBeLessThanOrEqual(0.2);
  });
});
