import { describe, expect, it } from "vitest";
import {
  generateSealingKeyPair,
  makeEvent,
  openPrivateKey,
  parseSealingPrivateKey,
  parseSealingPublicKey,
  SealedKeyError,
  sealedKeyContext,
  sealPrivateKey,
  validateData,
} from "./index.js";
import { reasonOf } from "../test/reason.js";

const PEM = new TextEncoder().encode("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIK…\n-----END PRIVATE KEY-----\n");
const ctx = sealedKeyContext("a", "shop", "shop-tls");

const reason = (fn: () => unknown) => reasonOf(SealedKeyError, fn);

describe("sealed private keys", () => {
  it("opens with the gateway's private key and context, and carries no plaintext", () => {
    const gw = generateSealingKeyPair();
    const sealed = sealPrivateKey(PEM, gw.publicKey, ctx);
    expect(sealed.keyId).toBe(gw.keyId);
    expect(JSON.stringify(sealed)).not.toContain("PRIVATE KEY");
    expect(Buffer.from(sealed.ciphertext, "base64url").includes(Buffer.from("PRIVATE KEY"))).toBe(false);
    expect(openPrivateKey(sealed, [generateSealingKeyPair(), gw], ctx).equals(Buffer.from(PEM))).toBe(true);
  });

  it("does not open with another key pair, even one claiming the same key id", () => {
    const gw = generateSealingKeyPair();
    const other = generateSealingKeyPair();
    const sealed = sealPrivateKey(PEM, gw.publicKey, ctx);
    expect(reason(() => openPrivateKey(sealed, [other], ctx))).toBe("UnknownKey");
    expect(reason(() => openPrivateKey(sealed, [{ ...other, keyId: gw.keyId }], ctx))).toBe("Undecryptable");
  });

  it("does not open for another Secret, nor after any byte of it changed", () => {
    const gw = generateSealingKeyPair();
    const sealed = sealPrivateKey(PEM, gw.publicKey, ctx);
    expect(reason(() => openPrivateKey(sealed, [gw], sealedKeyContext("b", "shop", "shop-tls")))).toBe("Undecryptable");
    const body = Buffer.from(sealed.ciphertext, "base64url");
    body[0] = (body[0] ?? 0) ^ 1;
    expect(reason(() => openPrivateKey({ ...sealed, ciphertext: body.toString("base64url") }, [gw], ctx))).toBe("Undecryptable");
    const other = sealPrivateKey(PEM, gw.publicKey, ctx);
    expect(reason(() => openPrivateKey({ ...sealed, epk: other.epk }, [gw], ctx))).toBe("Undecryptable");
    expect(reason(() => openPrivateKey({ ...sealed, nonce: "AAAA" }, [gw], ctx))).toBe("Undecryptable");
  });

  it("reads key pairs from PEM and public keys from PEM or raw base64url", () => {
    const gw = generateSealingKeyPair();
    const pem = gw.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const loaded = parseSealingPrivateKey(pem);
    expect(loaded.keyId).toBe(gw.keyId);
    const spki = gw.publicKey.export({ format: "pem", type: "spki" }).toString();
    const raw = gw.publicKey.export({ format: "jwk" }).x ?? "";
    const sealed = sealPrivateKey(PEM, parseSealingPublicKey(raw), ctx);
    expect(openPrivateKey(sealPrivateKey(PEM, parseSealingPublicKey(spki), ctx), [loaded], ctx).length).toBe(PEM.length);
    expect(openPrivateKey(sealed, [loaded], ctx).length).toBe(PEM.length);
    expect(reason(() => parseSealingPublicKey("not a key"))).toBe("InvalidKey");
    expect(reason(() => parseSealingPrivateKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))).toBe("InvalidKey");
  });

  it("fits the secret.v1 schema", () => {
    const gw = generateSealingKeyPair();
    const data = {
      cluster: "a",
      namespace: "shop",
      name: "shop-tls",
      uid: "u",
      certificateChainPem: "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n",
      notAfter: "2027-01-01T00:00:00Z",
      dnsNames: ["shop.example.com"],
      privateKey: sealPrivateKey(PEM, gw.publicKey, ctx),
    };
    expect(validateData("io.sharedlb.secret.v1", data)).toBe(true);
    expect(validateData("io.sharedlb.secret.v1", { ...data, privateKey: "-----BEGIN PRIVATE KEY-----" })).toBe(false);
    expect(makeEvent({ type: "io.sharedlb.secret.v1", source: "sharedlb/watcher/a", subject: "a/shop/shop-tls", data }).data).toBe(data);
  });
});
