import { describe, expect, it } from "vitest";
import { NameSet, NameSetRegistry } from "./name-set.js";

const names = (n: number, prefix = "c") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("NameSet", () => {
  it("behaves as a set through additions, removals and compaction", () => {
    const s = new NameSet();
    for (const n of names(100)) s.add(n);
    s.compact();
    s.delete("c5");
    s.add("x");
    expect(s.has("c5")).toBe(false);
    expect(s.has("c6")).toBe(true);
    expect(s.has("x")).toBe(true);
    s.add("c5");
    expect([...s].sort()).toEqual([...names(100), "x"].sort());
  });

  it("streams with the same names share one set, and stop sharing when they diverge", () => {
    const registry = new NameSetRegistry();
    const a = new NameSet(registry);
    const b = new NameSet(registry);
    for (const s of [a, b]) {
      for (const n of names(1000)) s.add(n);
      s.compact();
    }
    expect(registry.size).toBe(1);
    for (const n of names(300, "only-a")) a.add(n);
    a.compact();
    expect(registry.size).toBe(2);
    expect(b.has("only-a1")).toBe(false);
    a.release();
    b.release();
    expect(registry.size).toBe(0);
  });
});
