import { generateSealingKeyPair, sealedKeyContext, sealPrivateKey, type SealedKeyError, type SecretResource } from "@sharedlb/contracts";
import { describe, expect, it } from "vitest";
import { SealingKeyring } from "./sealing-keyring.js";

const KEY_PEM = "-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n";

function secret(recipient: ReturnType<typeof generateSealingKeyPair>, name = "web-tls"): SecretResource {
  return {
    cluster: "a",
    namespace: "shop",
    name,
    uid: `uid-${name}`,
    certificateChainPem: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    notAfter: "2030-01-01T00:00:00Z",
    dnsNames: ["web.example.com"],
    privateKey: sealPrivateKey(Buffer.from(KEY_PEM), recipient.publicKey, sealedKeyContext("a", "shop", name)),
  };
}

describe("SealingKeyring", () => {
  it("opens a key sealed to any of its keys (rotation), and reports one sealed to another key once", () => {
    const current = generateSealingKeyPair();
    const previous = generateSealingKeyPair();
    const foreign = generateSealingKeyPair();
    const failures: SealedKeyError[] = [];
    const open = new SealingKeyring([current, previous]).opener((_s, err) => failures.push(err));
    expect(open(secret(current))?.privateKeyPem).toBe(KEY_PEM);
    expect(open(secret(previous))).toEqual({ certificateChainPem: expect.stringContaining("CERTIFICATE"), privateKeyPem: KEY_PEM });
    const unknown = secret(foreign);
    expect(open(unknown)).toBeUndefined();
    expect(open(unknown)).toBeUndefined();
    expect(failures.map((f) => f.reason)).toEqual(["UnknownKey"]);
    // The message names the key id, never key material.
    expect(failures[0]?.message).toContain(foreign.keyId);
  });

  it("refuses a sealed key copied onto another Secret's event", () => {
    const key = generateSealingKeyPair();
    const failures: string[] = [];
    const open = new SealingKeyring([key]).opener((_s, err) => failures.push(err.reason));
    const copied = { ...secret(key, "web-tls"), name: "other-tls" };
    expect(open(copied)).toBeUndefined();
    expect(failures).toEqual(["Undecryptable"]);
  });
});
