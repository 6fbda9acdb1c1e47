import { describe, expect, it } from "vitest";
import { type BudgetGrant, WriteBudget } from "./write-budget.js";

describe("WriteBudget", () => {
  it("serves the waiting stream that holds least first", async () => {
    const budget = new WriteBudget(100, { stallAfterMs: 60_000 });
    const busy = {};
    const fresh = {};
    const first = await budget.acquire(busy, 60);
    const second = await budget.acquire(busy, 40);
    const order: string[] = [];
    const granted = (who: string) => (g: BudgetGrant) => {
      order.push(who);
      return g;
    };
    const more = budget.acquire(busy, 60).then(granted("busy"));
    const newcomer = budget.acquire(fresh, 60).then(granted("fresh"));
    first.release();
    await newcomer;
    expect(order).toEqual(["fresh"]);
    second.release();
    (await newcomer).release();
    await more;
    expect(order).toEqual(["fresh", "busy"]);
  });

  it("stops counting a response its client does not read, so others are not kept waiting", async () => {
    let now = 0;
    const budget = new WriteBudget(100, { stallAfterMs: 1_000, now: () => now });
    const stuck = await budget.acquire({}, 100);
    let served: BudgetGrant | undefined;
    const waiting = budget.acquire({}, 50).then((g) => {
      served = g;
    });
    budget.sweep();
    expect(served).toBeUndefined();
    now = 1_000;
    budget.sweep();
    await waiting;
    expect(budget.inUse).toBe(50);
    expect(budget.stalled).toBe(100);
    stuck.release();
    expect(budget.stalled).toBe(0);
    served?.release();
    expect(budget.inUse).toBe(0);
  });

  it("lets one response larger than the budget go out alone", async () => {
    const budget = new WriteBudget(10, { stallAfterMs: 60_000 });
    const big = await budget.acquire({}, 500);
    expect(budget.inUse).toBe(500);
    big.release();
    expect(budget.inUse).toBe(0);
  });
});
