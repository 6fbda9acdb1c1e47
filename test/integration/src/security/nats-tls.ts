import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { makeTestPki, type TestPki } from "@sharedlb/testing";

/** Throwaway certificates laid out as the nats-tls Secret is mounted (tls.crt, tls.key, ca.crt). */
export function natsTlsDir(dir: string): { dir: string; pki: TestPki } {
  const pki = makeTestPki(dir, "nats-ca");
  const server = pki.issue("nats-server", { dns: ["localhost", "nats"], ip: ["127.0.0.1"] });
  copyFileSync(server.certFile, join(dir, "tls.crt"));
  copyFileSync(server.keyFile, join(dir, "tls.key"));
  copyFileSync(pki.caFile, join(dir, "ca.crt"));
  return { dir, pki };
}
