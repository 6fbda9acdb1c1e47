import { describe, expect, it } from "vitest";
import { ConfigError } from "./config.js";
import { natsConnectSettings } from "./nats-auth.js";

const files: Record<string, string> = {
  "/ca.pem": "CA",
  "/c.pem": "CERT",
  "/k.pem": "KEY",
  "/seed.nk": "SUAM2ZMMGDU3ZEWJYWKWQ4FGDTIPJ2BE4MJNUMUCOXNM42T2ZVQDXUH5WI\n",
};
const read = (p: string) => {
  const f = files[p];
  if (f === undefined) throw Object.assign(new Error("nope"), { code: "ENOENT" });
  return new TextEncoder().encode(f);
};

describe("NATS connection settings", () => {
  it("takes user:pass out of the URL (nats.js ignores it there) and never keeps it in the server list", () => {
    const s = natsConnectSettings("nats://lb:s3cret@a:4222, nats://lb:s3cret@b:4222", {}, read);
    expect(s.servers).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(s.identity).toBe("user lb");
    expect(s.authenticator?.()).toMatchObject({ user: "lb", pass: "s3cret" });
  });

  it("reads a token from the URL, an nkey seed from a file, and TLS material once", () => {
    expect(natsConnectSettings("nats://tok@a", {}, read).authenticator?.()).toMatchObject({ auth_token: "tok" });
    const s = natsConnectSettings("tls://a:4222", { nkeyFile: "/seed.nk", caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem" }, read);
    expect(s.identity).toBe("nkey /seed.nk");
    expect(s.tls).toEqual({ ca: "CA", cert: "CERT", key: "KEY" });
    expect(natsConnectSettings("nats://a", {}, read).tls).toBeUndefined();
    expect(natsConnectSettings("tls://a", {}, read).tls).toEqual({});
  });

  it("refuses ambiguous or incomplete settings with an error naming the flags, never the secret", () => {
    const bad: [string, Parameters<typeof natsConnectSettings>[1], RegExp][] = [
      ["nats://u:p@a", { token: "t" }, /more than once: --nats-token, credentials in --nats-url/],
      ["nats://u:p@a,nats://v:q@b", {}, /same credentials/],
      ["nats://a", { user: "u" }, /--nats-user and --nats-password go together/],
      ["nats://a", { certFile: "/c.pem" }, /--nats-cert and --nats-key go together/],
      ["nats://a", { caFile: "/missing.pem" }, /--nats-ca \/missing.pem: cannot read: ENOENT/],
      ["nats://a", { inboxPrefix: "_INBOX.a" }, /one subject token/],
      ["", {}, /empty/],
    ];
    for (const [url, sec, msg] of bad) {
      const err = (() => {
        try {
          natsConnectSettings(url, sec, read);
        } catch (e) {
          return e;
        }
      })();
      expect(err, url).toBeInstanceOf(ConfigError);
      expect(String(err)).toMatch(msg);
      expect(String(err)).not.toMatch(/\bp@|:p\b|q@/);
    }
  });
});
