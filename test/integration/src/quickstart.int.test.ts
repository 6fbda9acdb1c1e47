import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type ManagedProcess, startNats, startProcess, startRedis, type TestNats, type TestRedis, waitFor } from "@sharedlb/testing";

// The README's run command, in a clean clone of the repository: it sets up what is
// missing, starts the four services and a stand-in tenant cluster with sample Services,
// and Ctrl-C stops it all.

const ROOT = resolve(import.meta.dirname, "../../..");
let copy: string;
let nats: TestNats;
let redis: TestRedis;
let run: ManagedProcess | undefined;

beforeAll(async () => {
  copy = mkdtempSync(join(tmpdir(), "sharedlb-quickstart-"));
  execFileSync("git", ["clone", "--quiet", ROOT, copy]);
  [nats, redis] = await Promise.all([startNats(), startRedis()]);
});

afterAll(async () => {
  await run?.stop();
  await Promise.all([nats?.dispose(), redis?.dispose()]);
  rmSync(copy, { recursive: true, force: true });
});

it("runs the whole system from a clean clone with one command, serves the samples, and stops on Ctrl-C", async () => {
  run = startProcess("bash", ["scripts/run-local.sh"], { NATS_URL: nats.url, REDIS_URL: redis.url, GRPC_ADDR: "127.0.0.1:0", KUBECONFIG: "" }, copy);
  await run.waitForOutput(/all 5 sample Services have addresses/, 600_000);

  const status = await waitFor("sharedlb status --json to show the samples allocated", () => {
    const out = execFileSync(process.execPath, [join(copy, "cli/dist/main.js"), "status", "--json", "--nats-url", nats.url], { encoding: "utf8" });
    const parsed = JSON.parse(out) as { totals: { allocated: number; ips: number } };
    return parsed.totals.allocated === 5 ? parsed : undefined;
  }, 30_000, 250);
  expect(status.totals.ips).toBeLessThan(5);

  run.child.kill("SIGINT");
  expect(await run.exited).toBe(0);
  expect(run.output()).toMatch(/sharedlb: stopped/);
  run = undefined;
}, 900_000);
