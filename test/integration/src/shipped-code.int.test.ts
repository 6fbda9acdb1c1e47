import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// What a package ships is its `dist`; test code and test support must never be in it (they
// pull in test-only dependencies and fixtures). Runs after `pnpm run build`, as `pnpm test` does.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const PACKAGE_DIRS = ["libs", "services"]
  .flatMap((group) => readdirSync(join(ROOT, group)).map((name) => join(ROOT, group, name)))
  .concat(join(ROOT, "cli"))
  // libs/testing is the test-support package itself: it is never a runtime dependency.
  .filter((dir) => existsSync(join(dir, "package.json")) && !dir.endsWith(join("libs", "testing")));

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const TEST_ONLY = /(\.test\.(js|d\.ts)(\.map)?$)|(^|\/)test-support(\/|\.)/;

describe("shipped code", () => {
  it.each(PACKAGE_DIRS.map((dir) => relative(ROOT, dir)))("%s ships no test code in dist", (pkg) => {
    const dist = join(ROOT, pkg, "dist");
    expect(existsSync(dist), `${pkg} has no dist: build first`).toBe(true);
    const shipped = filesUnder(dist).map((f) => relative(dist, f));
    expect(shipped.filter((f) => TEST_ONLY.test(f))).toEqual([]);
  });
});
