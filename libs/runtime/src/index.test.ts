import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// issue 8: each lib names its public surface; a wildcard re-export would make every helper
// of a module public again without anyone deciding it.
describe.each(["runtime", "kube", "contracts", "envoy-api", "serving", "testing"])("libs/%s/src/index.ts", (lib) => {
  const text = readFileSync(join(import.meta.dirname, "..", "..", lib, "src", "index.ts"), "utf8");

  it("re-exports by name only (no export *)", () => {
    expect(text).not.toMatch(/export\s+\*/);
    expect(text).toMatch(/export \{/);
  });
});
