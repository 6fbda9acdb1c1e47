import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { createMetricsRegistry } from "@sharedlb/runtime";

// docs/metrics.md must name every metric each service registers, with its labels, and
// nothing that no longer exists. The registries are built by the services' own code.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const DOC = readFileSync(join(ROOT, "docs/metrics.md"), "utf8");
const SERVICES = readdirSync(join(ROOT, "services")).filter((s) => existsSync(join(ROOT, "services", s, "package.json")));

type Registry = ReturnType<typeof createMetricsRegistry>;

/** The section `## <title…>` of the doc, up to the next `## `. */
function section(title: string): string {
  const start = DOC.search(new RegExp(`^## ${title.replace(/[()]/g, "\\$&")}`, "m"));
  if (start < 0) return "";
  const next = DOC.indexOf("\n## ", start + 3);
  return DOC.slice(start, next < 0 ? undefined : next);
}

/** Metric names a section's tables document, with `{a,b}` and `…_suffix` shorthands expanded. */
function documentedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const row of text.split("\n").filter((l) => l.startsWith("| `"))) {
    const firstCell = row.split("|")[1] ?? "";
    let prev = "";
    for (const m of firstCell.matchAll(/`([^`]+)`/g)) {
      let token = m[1] ?? "";
      if (token.startsWith("…")) {
        const suffix = token.slice(1);
        const head = suffix.split("_").slice(0, 3).join("_");
        token = prev.slice(0, prev.indexOf(head)) + suffix;
      }
      const brace = /\{([^}]+)\}/.exec(token);
      const expanded = brace ? (brace[1] ?? "").split(",").map((alt) => token.replace(brace[0], alt)) : [token];
      for (const n of expanded) names.add(n);
      prev = token;
    }
  }
  return names;
}

async function serviceRegistry(svc: string): Promise<{ registry: Registry; own: string[] }> {
  const registry = createMetricsRegistry(svc);
  const defaults = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  const mod = (await import(pathToFileURL(join(ROOT, "services", svc, "src/metrics.ts")).href)) as Record<string, unknown>;
  const factory = Object.entries(mod).find(([k, v]) => typeof v === "function" && /Metrics$/.test(k))?.[1] as (
    r: Registry,
    ...rest: unknown[]
  ) => unknown;
  factory(registry, () => 0);
  const own = (await registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => !defaults.has(n));
  return { registry, own };
}

describe("docs/metrics.md", () => {
  it("documents the process metrics every service exposes", async () => {
    const registry = createMetricsRegistry("any");
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    const documented = documentedNames(section("Process metrics"));
    expect(names.filter((n) => !documented.has(n))).toEqual([]);
    expect([...documented].filter((n) => !names.includes(n))).toEqual([]);
  });

  it.each(SERVICES)("documents every metric of %s with its labels, and no stale ones", async (svc) => {
    const text = section(`${svc} (`);
    if (!existsSync(join(ROOT, "services", svc, "src/metrics.ts"))) {
      // A service still being written: the doc must say so, not stay silent.
      expect(DOC).toMatch(new RegExp(`TODO.*${svc}`));
      return;
    }
    expect(text, `a "## ${svc} (…)" section`).not.toBe("");
    const { registry, own } = await serviceRegistry(svc);
    expect(own.length).toBeGreaterThan(0);
    const documented = documentedNames(text);
    expect(
      own.filter((n) => !documented.has(n)),
      "registered but not documented",
    ).toEqual([]);
    expect(
      [...documented].filter((n) => !own.includes(n)),
      "documented but not registered",
    ).toEqual([]);
    for (const name of own) {
      const row = text.split("\n").find((l) => l.startsWith(`| \`${name}\``)) ?? "";
      const labels = ((registry.getSingleMetric(name) as unknown as { labelNames?: string[] }).labelNames ?? []).filter(
        (l) => l !== "service",
      );
      for (const l of labels) expect(row, `${name} documents label ${l}`).toContain(`\`${l}\``);
    }
  });
});
