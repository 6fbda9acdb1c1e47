import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { makeEvent, subjects } from "@sharedlb/contracts";
import { connectNats, createRootLogger, type NatsHandle, publishEvent } from "@sharedlb/runtime";
import { type NatsFixture, natsFixture, serviceResource, startNats, type TestNats, waitFor } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { natsTlsDir } from "./nats-tls.js";
import { shippedNatsConfig } from "./shipped-nats.js";

// `sharedlb tenant init/add/revoke` as an operator runs them, against a nats-server that
// reads the authorization they write; revocation is a reload, nothing restarts.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
const CLI = join(ROOT, "cli/dist/main.js");
const run = promisify(execFile);
const silent = createRootLogger("test", "silent");

const work = mkdtempSync(join(tmpdir(), "sharedlb-tenants-"));
const lbDir = join(work, "lb");
let nats: TestNats;
let fx: NatsFixture;
let caFile: string;

const cli = (...args: string[]) => run(process.execPath, [CLI, "tenant", ...args, "--lb-dir", lbDir], { cwd: work });

/** Reads a seed out of a generated Secret, as kubelet would mount it, into a file. */
function seedFile(secretFile: string, key: string): string {
  const secret = parse(readFileSync(secretFile, "utf8")) as { stringData: Record<string, string> };
  const file = join(work, `${key}-${Math.random().toString(36).slice(2)}.nk`);
  writeFileSync(file, secret.stringData[key] ?? "", { mode: 0o600 });
  return file;
}

const tenantSeed = (cluster: string) => seedFile(join(work, `sharedlb-tenant-${cluster}`, "nats-credentials.yaml"), "nkey");

function publishAs(h: NatsHandle, cluster: string, name: string) {
  const svc = serviceResource(cluster, "shop", name);
  const ev = makeEvent({ type: "io.sharedlb.service.v1", source: `sharedlb/watcher/${cluster}`, subject: `${cluster}/shop/${name}`, data: svc });
  return publishEvent(h.js, subjects.service(cluster, "shop", name), ev);
}

beforeAll(async () => {
  mkdirSync(lbDir, { recursive: true });
  writeFileSync(join(lbDir, "nats-identities.json"), readFileSync(join(ROOT, "deploy/k8s/lb/nats-identities.json")));
  const tls = natsTlsDir(join(work, "tls"));
  caFile = tls.pki.caFile;
  await cli("init", "--out", join(work, "lb-secrets"));
  await cli("add", "a", "--server", "tls://nats.example:4222", "--ca", caFile);
  await cli("add", "b", "--ca", caFile);
  const auth = (parse(readFileSync(join(lbDir, "21-nats-auth.yaml"), "utf8")) as { data: Record<string, string> }).data["nats-auth.conf"] ?? "";
  nats = await startNats({ config: shippedNatsConfig(tls.dir), files: { "nats-auth.conf": auth } });
  fx = await natsFixture(nats.url, { nkeyFile: seedFile(join(work, "lb-secrets", "nats-identities-secret.yaml"), "allocator.nk"), caFile });
});

afterAll(async () => {
  await fx?.close();
  await nats?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("sharedlb tenant", () => {
  it("writes a tenant overlay whose Secret and settings let that tenant in, with its own inbox and verify-only streams", () => {
    const dir = join(work, "sharedlb-tenant-a");
    const k = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as { resources: string[]; patches: { path: string }[] };
    expect(resolve(dir, k.resources[0] ?? "")).toBe(join(work, "deploy/k8s/tenant"));
    expect(k.patches.map((p) => p.path).sort()).toEqual(["nats-credentials.yaml", "tenant-config.yaml"]);
    const secret = parse(readFileSync(join(dir, "nats-credentials.yaml"), "utf8")) as { metadata: { name: string }; stringData: Record<string, string> };
    expect(secret.metadata.name).toBe("sharedlb-nats");
    expect(secret.stringData.NATS_URL).toBe("tls://nats.example:4222");
    expect(secret.stringData.nkey).toMatch(/^SU[A-Z2-7]+$/);
    expect(secret.stringData["ca.crt"]).toBe(readFileSync(caFile, "utf8"));
    const cfg = parse(readFileSync(join(dir, "tenant-config.yaml"), "utf8")) as { data: Record<string, string> };
    expect(cfg.data).toEqual({ SHAREDLB_CLUSTER: "a", NATS_INBOX_PREFIX: "_INBOX_a", SHAREDLB_STREAM_MODE: "verify" });
    // The LB side holds public keys only.
    expect(readFileSync(join(lbDir, "21-nats-auth.yaml"), "utf8")).not.toContain(secret.stringData.nkey);
  });

  it("refuses to add a tenant twice and to revoke an unknown one, naming it", async () => {
    await expect(cli("add", "c")).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("--ca") });
    await expect(cli("add", "a", "--ca", caFile)).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("tenant a exists") });
    await expect(cli("revoke", "zz")).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("no tenant zz (tenants: a, b)") });
    await expect(cli("add", "Not_A_Label", "--ca", caFile)).rejects.toMatchObject({ code: 2 });
  });

  it("revoke cuts the tenant off at the next reload; the other tenant's connection is not disturbed", async () => {
    const a = await connectNats(nats.url, "tenant-a", silent, { nkeyFile: tenantSeed("a"), inboxPrefix: "_INBOX_a", caFile });
    const b = await connectNats(nats.url, "tenant-b", silent, { nkeyFile: tenantSeed("b"), inboxPrefix: "_INBOX_b", caFile });
    let bDisconnects = 0;
    void (async () => {
      for await (const s of b.nc.status()) if (s.type === "disconnect") bDisconnects++;
    })();
    await publishAs(a, "a", "before");
    await publishAs(b, "b", "before");

    const reloads = (nats.output().match(/Reloaded server configuration/g) ?? []).length;
    const authFile = join(nats.dir, "nats-auth.conf");
    await cli("revoke", "a", "--auth-conf", authFile, "--reload-pid", String(nats.pid()));
    await nats.reloaded(reloads + 1);

    await waitFor("tenant a's connection closed or refused", async () => (await publishAs(a, "a", "after").then(() => false, () => true)) || undefined);
    await expect(connectNats(nats.url, "tenant-a-again", silent, { nkeyFile: tenantSeed("a"), inboxPrefix: "_INBOX_a", caFile })).rejects.toThrow(
      /refused nkey/,
    );
    expect((await publishAs(b, "b", "after")).seq).toBeGreaterThan(0);
    expect(bDisconnects).toBe(0);
    expect(readFileSync(join(lbDir, "nats-identities.json"), "utf8")).not.toContain('"a"');
    await a.nc.close().catch(() => undefined);
    await b.nc.close();
  });
});
