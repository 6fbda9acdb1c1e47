import { ENDPOINT_TYPE } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { TypeTable } from "./fleet-snapshot.js";
import { setVersion } from "./hashing.js";
import { ResourceEntry } from "./resource-entry.js";
import { SubscriptionRegistry } from "./subscription.js";

const entry = (name: string, content: string) => new ResourceEntry(ENDPOINT_TYPE, name, "public", false, "a/shop/web", Buffer.from(`${name}=${content}`));

describe("TypeTable", () => {
  it("a named subscription's version stays the set hash of what it asks for, through changes, removals and re-adds", () => {
    const table = new TypeTable(ENDPOINT_TYPE);
    const names = Array.from({ length: 60 }, (_, i) => `c${i}`);
    for (const n of names) table.set(n, entry(n, "v0"));
    table.bump(0, names);
    const registry = new SubscriptionRegistry();
    // 40 of the table's names and 5 it does not hold (yet).
    const sub = registry.fromNames(false, [...names.slice(0, 40), "x0", "x1", "x2", "x3", "x4"]);
    const other = registry.fromNames(false, names.slice(20));
    const check = (since: number) => {
      for (const s of [sub, other]) {
        const full = table.resolve(s);
        expect(full.version).toBe(setVersion(full.entries));
        expect(table.resolveUpdate(s, since, [])?.version).toBe(full.version);
      }
    };
    check(0);
    // A seeded walk of sets, removals and additions (also of names outside both lists).
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 1; step <= 200; step++) {
      const since = table.generation;
      const touched: string[] = [];
      for (let k = 0; k <= next(4); k++) {
        const pool = [...names, "x0", "x1", "x2", "x3", "x4", "y0"];
        const name = pool[next(pool.length)] as string;
        table.set(name, next(5) === 0 ? undefined : entry(name, `v${step}.${k}`));
        touched.push(name);
      }
      table.bump(step, touched);
      check(since);
    }
  });
});
