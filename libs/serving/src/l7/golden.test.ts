// Golden files: testdata/l7/<case>.input.json (contract messages) → <case>.golden.json
// (every slot's Envoy resources). UPDATE_GOLDEN=1 rewrites the golden files; review the diff.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildAll, readInput } from "../test-support/l7-golden.js";

const DIR = new URL("../../testdata/l7/", import.meta.url);
const cases = readdirSync(DIR)
  .filter((f) => f.endsWith(".input.json"))
  .map((f) => f.slice(0, -".input.json".length))
  .sort();

describe("L7 translation golden files", () => {
  it("has cases", () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  it.each(cases)("%s", (name) => {
    const input = readInput(new URL(`${name}.input.json`, DIR).pathname);
    const actual = `${JSON.stringify(buildAll(input).slots, null, 2)}\n`;
    const goldenPath = new URL(`${name}.golden.json`, DIR).pathname;
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(goldenPath, actual);
    expect(JSON.parse(actual)).toEqual(JSON.parse(readFileSync(goldenPath, "utf8")));
  });
});
