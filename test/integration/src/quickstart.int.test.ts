import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ManagedProcess, startProcess, waitFor } from "@sharedlb/testing";

// The README's run command, in a clean clone of the repository: it sets up what is
// missing, starts NATS (TLS, nkey identities from `sharedlb tenant`) and Redis (AUTH, TLS),
// the four services with ADS over mutual TLS, and a stand-in tenant cluster with sample
// Services; Ctrl-C stops it all.

const ROOT = resolve(import.meta.dirname, "../../..");
let copy: string;
let run: ManagedProcess | undefined;

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), "sharedlb-quickstart-"));
  execFileSync("git", ["clone", "--quiet", ROOT, copy]);
});

afterAll(async () => {
  await run?.stop();
  rmSync(copy, { recursive: true, force: true });
});

it("runs the whole system from a clean clone with one command, security on, serves the samples, and stops on Ctrl-C", async () => {
  run = startProcess("bash", ["scripts/run-local.sh"], { NATS_URL: "", REDIS_URL: "", GRPC_ADDR: "127.0.0.1:0", KUBECONFIG: "" }, copy);
  await run.waitForOutput(/all 5 sample Services have addresses/, 600_000);
  expect(run.output()).toMatch(/NATS tls:\/\/127\.0\.0\.1:\d+, Redis rediss:\/\/127\.0\.0\.1:\d+ \(TLS; nkey identities/);
  expect(run.output()).toMatch(/Envoy ADS \(xDS, mutual TLS\)/);

  // The CLI as the run says to call it: its own read-only identity and the CA.
  // The "Try:" line follows the addresses; it may arrive in a later chunk of output.
  const [, vars] = await run.waitForOutput(/Try: (.*) node cli\/dist\/main\.js status/, 30_000);
  const env = Object.fromEntries((vars ?? "").split(" ").map((kv) => kv.split("=") as [string, string]));
  expect(Object.keys(env).sort()).toEqual(["NATS_CA", "NATS_NKEY", "NATS_URL"]);
  const status = await waitFor("sharedlb status --json to show the samples allocated", () => {
    const out = execFileSync(process.execPath, [join(copy, "cli/dist/main.js"), "status", "--json"], { encoding: "utf8", env: { ...process.env, ...env } });
    const parsed = JSON.parse(out) as { totals: { allocated: number; ips: number } };
    return parsed.totals.allocated === 5 ? parsed : undefined;
  }, 30_000, 250);
  expect(status.totals.ips).toBeLessThan(5);

  run.child.kill("SIGINT");
  expect(await run.exited).toBe(0);
  expect(run.output()).toMatch(/sharedlb: stopped/);
  run = undefined;
}, 900_000);
