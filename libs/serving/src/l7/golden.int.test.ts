// Every resource of every golden case passes Envoy's own validation rules
// (go-control-plane's ValidateAll, nested Anys included, via tools/envoy-validate).
import { readdirSync } from "node:fs";
import { validateEnvoyResources } from "@sharedlb/testing";
import { describe, expect, it } from "vitest";
import { buildAll, readInput } from "../test-support/l7-golden.js";

const DIR = new URL("../../testdata/l7/", import.meta.url);
const cases = readdirSync(DIR).filter((f) => f.endsWith(".input.json"));

describe("L7 resources under Envoy's validation rules", () => {
  it.each(cases)("%s", async (file) => {
    const { built } = buildAll(readInput(new URL(file, DIR).pathname));
    expect(built.length).toBeGreaterThan(0);
    expect(await validateEnvoyResources(built.map((b) => b.any))).toEqual([]);
  });
});
