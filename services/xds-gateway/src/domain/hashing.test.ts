import { describe, expect, it } from "vitest";
import { hashResource, SetHash, setVersion } from "./hashing.js";
import { namesKey } from "./names-fingerprint.js";

describe("content hashing", () => {
  it("a resource version depends on its bytes only", () => {
    expect(hashResource(Buffer.from("abc")).version).toBe(hashResource(Uint8Array.from([97, 98, 99])).version);
    expect(hashResource(Buffer.from("abc")).version).not.toBe(hashResource(Buffer.from("abd")).version);
  });

  it("a set version does not depend on order, and updates incrementally", () => {
    const items = ["a", "b", "c", "d"].map((s) => hashResource(Buffer.from(s)));
    const h = new SetHash();
    for (const i of items) h.add(i.lanes);
    expect(h.version()).toBe(setVersion([...items].reverse()));
    h.remove(items[1]?.lanes ?? [0, 0, 0, 0]);
    expect(h.version()).toBe(setVersion([items[0], items[2], items[3]].filter((x) => x !== undefined)));
    expect(new SetHash().version()).not.toBe("");
  });

  it("subscription keys ignore order but not content", () => {
    expect(namesKey(false, ["a", "b"])).toBe(namesKey(false, ["b", "a"]));
    expect(namesKey(false, ["a", "b"])).not.toBe(namesKey(false, ["a", "c"]));
    expect(namesKey(true, ["a"])).not.toBe(namesKey(false, ["a"]));
  });
});
