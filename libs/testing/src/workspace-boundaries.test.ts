import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Services talk only through NATS: no service imports another, the CLI and the libraries
// import no service (shared code lives in libs/). Checked on package.json dependencies and
// on every import specifier in the sources. Tests may start another service as a process
// through its launcher in src/test-support/, and nothing else of it.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

interface Pkg {
  dir: string;
  name: string;
  deps: string[];
}

function pkgAt(dir: string): Pkg {
  const json: unknown = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const field = (k: string): string[] => {
    const v = typeof json === "object" && json !== null ? (json as Record<string, unknown>)[k] : undefined;
    return typeof v === "object" && v !== null ? Object.keys(v) : [];
  };
  const name = typeof json === "object" && json !== null ? (json as Record<string, unknown>).name : undefined;
  return {
    dir,
    name: typeof name === "string" ? name : dir,
    deps: [...field("dependencies"), ...field("devDependencies"), ...field("peerDependencies")],
  };
}

const packagesUnder = (group: string): Pkg[] =>
  readdirSync(join(ROOT, group))
    .map((n) => join(ROOT, group, n))
    .filter((d) => existsSync(join(d, "package.json")))
    .map(pkgAt);

const SERVICES = packagesUnder("services");
const SERVICE_NAMES = new Set(SERVICES.map((s) => s.name));
const CHECKED = [...SERVICES, ...packagesUnder("libs"), pkgAt(join(ROOT, "cli"))];

function sources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === "node_modules" || entry === "dist" ? [] : sources(path);
    return /\.(ts|mts|js|mjs)$/.test(entry) ? [path] : [];
  });
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;

const isTestCode = (file: string) => /\.test\.[mc]?[jt]s$/.test(file) || file.split(sep).includes("test-support");

/** The service package directory a specifier in `file` reaches, if any. */
function serviceReached(file: string, specifier: string): string | undefined {
  if (specifier.startsWith(".")) {
    const target = relative(ROOT, resolve(dirname(file), specifier)).split(sep);
    if (target[0] !== "services" || !target[1]) return undefined;
    if (isTestCode(file) && target[2] === "src" && target[3] === "test-support") return undefined;
    return join(ROOT, "services", target[1]);
  }
  const name = specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : (specifier.split("/")[0] ?? "");
  return SERVICES.find((s) => s.name === name)?.dir;
}

describe("workspace boundaries", () => {
  it.each(CHECKED.map((p) => [relative(ROOT, p.dir), p] as const))("%s depends on no other service package", (_, pkg) => {
    expect(pkg.deps.filter((d) => SERVICE_NAMES.has(d) && d !== pkg.name)).toEqual([]);
  });

  it.each(CHECKED.map((p) => [relative(ROOT, p.dir), p] as const))("%s imports nothing from another service", (_, pkg) => {
    const crossings: string[] = [];
    for (const file of sources(join(pkg.dir, "src"))) {
      for (const m of readFileSync(file, "utf8").matchAll(SPECIFIER)) {
        const reached = serviceReached(file, m[1] ?? "");
        if (reached && reached !== pkg.dir) crossings.push(`${relative(ROOT, file)}: ${m[1]}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it("finds a crossing when there is one", () => {
    const gateway = SERVICES.find((s) => s.name === "@sharedlb/xds-gateway");
    expect(gateway).toBeDefined();
    const fromCli = join(ROOT, "cli", "src", "x.ts");
    expect(serviceReached(fromCli, "@sharedlb/xds-gateway")).toBe(gateway?.dir);
    expect(serviceReached(fromCli, "../../services/xds-gateway/src/gateway.js")).toBe(gateway?.dir);
    expect(serviceReached(fromCli, "@sharedlb/serving")).toBeUndefined();
    const cliTest = join(ROOT, "cli", "src", "x.int.test.ts");
    expect(serviceReached(cliTest, "../../services/xds-gateway/src/test-support/gateway-process.js")).toBeUndefined();
    expect(serviceReached(cliTest, "../../services/xds-gateway/src/domain/order.js")).toBe(gateway?.dir);
    expect(serviceReached(fromCli, "../../services/xds-gateway/src/test-support/gateway-process.js")).toBe(gateway?.dir);
    expect([..."import { a } from \"@sharedlb/x\"; await import('y');".matchAll(SPECIFIER)].map((m) => m[1])).toEqual(["@sharedlb/x", "y"]);
  });
});
