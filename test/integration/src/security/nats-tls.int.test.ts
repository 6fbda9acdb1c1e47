import { mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, createRootLogger } from "@sharedlb/runtime";
import { connectNatsOnce, makeTestPki, startNats, type TestNats } from "@sharedlb/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTestIdentities, type TestIdentities } from "../../../../cli/src/test-support/nats-identities.js";
import { natsTlsDir } from "./nats-tls.js";
import { shippedNatsConfig } from "./shipped-nats.js";

// NATS as shipped requires TLS: clients verify the server against the CA they are given.

const dir = mkdtempSync(join(tmpdir(), "sharedlb-nats-tls-"));
const silent = createRootLogger("test", "silent");
let nats: TestNats;
let ids: TestIdentities;
let caFile: string;

beforeAll(async () => {
  ids = makeTestIdentities(dir, ["a"]);
  const tls = natsTlsDir(join(dir, "tls"));
  caFile = tls.pki.caFile;
  nats = await startNats({ config: shippedNatsConfig(tls.dir), files: { "nats-auth.conf": ids.authorization() } });
});

afterAll(async () => {
  await nats?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** What the server answers a client that speaks plain NATS and never starts TLS. */
function plaintextAttempt(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const s = tcpConnect(port, "127.0.0.1");
    s.on("data", (d) => {
      got += d.toString();
      if (got.includes("INFO") && !got.includes("CONNECT_SENT")) {
        s.write('CONNECT {"verbose":false,"pedantic":false,"tls_required":false}\r\nPING\r\n');
        got += "CONNECT_SENT";
      }
    });
    s.on("close", () => resolve(got));
    s.on("error", reject);
  });
}

describe("NATS with TLS, as shipped", () => {
  it("serves a client that verifies the server against the CA", async () => {
    const h = await connectNats(nats.url, "verified", silent, { nkeyFile: ids.seedFile("a"), inboxPrefix: "_INBOX_a", caFile });
    expect(h.nc.info?.tls_required).toBe(true);
    await h.nc.close();
  });

  it("refuses a client that speaks plaintext", async () => {
    const answer = await plaintextAttempt(nats.port);
    // The server announces TLS, then drops a client that does not start it: no PONG, ever.
    expect(answer).toMatch(/"tls_required":true/);
    expect(answer).not.toMatch(/PONG|\+OK/);
  });

  it("is refused by a client that cannot verify the server (no CA, or another CA)", async () => {
    const once = (caFile?: string) => connectNatsOnce(nats.url, { nkeyFile: ids.seedFile("a"), inboxPrefix: "_INBOX_a", ...(caFile ? { caFile } : {}) });
    await expect(once()).rejects.toThrow(/certificate/i);
    const other = makeTestPki(join(dir, "other"), "other-ca");
    await expect(once(other.caFile)).rejects.toThrow(/certificate/i);
  });
});
