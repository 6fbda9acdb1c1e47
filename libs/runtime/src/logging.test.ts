import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createRootLogger, redactSecrets } from "./logging.js";

const KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";

function captured(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, stream };
}

describe("log redaction", () => {
  it("never writes secret fields, URL credentials or private keys, wherever a caller puts them", () => {
    const c = captured();
    const log = createRootLogger("test", "trace", "r1", c.stream).child({ component: "x" });
    log.info({ password: "pw-1", nats: { token: "tok-2", pass: "pw-3" }, seed: "SUSEED4" }, "connecting");
    log.warn({ err: "connect ECONNREFUSED redis://app:pw-5@redis:6379" }, "Redis unavailable");
    log.error(`cannot reach nats://lb:pw-6@nats:4222, ${KEY}`);
    log.info({ urls: ["nats://u:pw-7@a:4222"], tls: { privateKey: KEY } }, "tls");
    const all = c.lines.join("");
    expect(c.lines.length).toBe(4);
    for (const secret of ["pw-1", "tok-2", "pw-3", "SUSEED4", "pw-5", "pw-6", "pw-7", "MIIEvQ"]) expect(all).not.toContain(secret);
    expect(all).toContain("redis://[redacted]@redis:6379");
  });

  it("keeps what is not a secret", () => {
    expect(redactSecrets("nats://nats:4222 and key lb.resource.a.>")).toBe("nats://nats:4222 and key lb.resource.a.>");
  });
});
