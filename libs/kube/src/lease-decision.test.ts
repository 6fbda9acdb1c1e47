import { describe, expect, it } from "vitest";
import { decideLease, microTime, newLeaseRecord, observe, releasedRecord } from "./lease-decision.js";

describe("lease decisions", () => {
  const t0 = Date.parse("2026-11-22T00:00:00.000Z");
  const held = newLeaseRecord("a", 15, t0);

  it("waits while another holder's record keeps changing or has not been unchanged for a lease duration", () => {
    const seen = observe(undefined, held, t0);
    expect(decideLease(held, seen, "b", t0 + 14_999, 15)).toEqual({ action: "wait", holder: "a" });
    const renewed = { ...held, renewTime: microTime(t0 + 10_000) };
    const seenAgain = observe(seen, renewed, t0 + 14_000);
    expect(seenAgain.at).toBe(t0 + 14_000);
    expect(decideLease(renewed, seenAgain, "b", t0 + 20_000, 15).action).toBe("wait");
  });

  it("takes over a lease left unchanged for its duration, by its own clock", () => {
    const seen = observe(undefined, held, t0);
    const d = decideLease(held, seen, "b", t0 + 15_000, 15);
    expect(d).toMatchObject({ action: "write", takeover: true, record: { holderIdentity: "b", leaseTransitions: 1 } });
  });

  it("renews its own lease keeping acquireTime, and takes a released one at once", () => {
    const seen = observe(undefined, held, t0);
    const renew = decideLease(held, seen, "a", t0 + 2000, 15);
    expect(renew).toMatchObject({ action: "write", takeover: false, record: { holderIdentity: "a", acquireTime: held.acquireTime } });
    const released = releasedRecord(held, t0 + 3000);
    const d = decideLease(released, observe(undefined, released, t0 + 3001), "b", t0 + 3001, 15);
    expect(d).toMatchObject({ action: "write", takeover: true, record: { holderIdentity: "b" } });
  });

  it("writes MicroTime with six fractional digits", () => {
    expect(microTime(t0 + 123)).toBe("2026-11-22T00:00:00.123000Z");
  });
});
