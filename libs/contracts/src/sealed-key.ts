import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { SEALED_KEY_ALG, type SealedKey } from "./l7-resources.js";

// A TLS private key travels from the tenant cluster to the xds-gateways sealed to the
// gateways' X25519 key pair: ECDH with a fresh ephemeral key, HKDF-SHA256 to an AES-256-GCM
// key, and the object's identity as associated data, so a sealed key copied onto another
// Secret's event does not open.

const INFO = new TextEncoder().encode("sharedlb secret.v1 privateKey");

export class SealedKeyError extends Error {
  override readonly name = "SealedKeyError";
  constructor(
    readonly reason: "UnsupportedAlgorithm" | "UnknownKey" | "Undecryptable" | "InvalidKey",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface SealingKeyPair {
  keyId: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

export function generateSealingKeyPair(): SealingKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  return { keyId: sealingKeyId(publicKey), publicKey, privateKey };
}

/** A stable id for a public key: the first 16 bytes of the SHA-256 of its raw form, in hex. */
export function sealingKeyId(publicKey: KeyObject): string {
  return createHash("sha256").update(rawPublicKey(publicKey)).digest("hex").slice(0, 32);
}

/** Reads an X25519 public key from PEM (SPKI) or from its raw 32 bytes in base64url. */
export function parseSealingPublicKey(text: string): KeyObject {
  try {
    const key = text.includes("-----BEGIN")
      ? createPublicKey(text)
      : createPublicKey({ key: { kty: "OKP", crv: "X25519", x: text.trim() }, format: "jwk" });
    return requireX25519(key);
  } catch (err) {
    if (err instanceof SealedKeyError) throw err;
    throw new SealedKeyError("InvalidKey", "not an X25519 public key (PEM or base64url raw)", { cause: err });
  }
}

/** Reads an X25519 private key from PEM (PKCS#8). */
export function parseSealingPrivateKey(pem: string): SealingKeyPair {
  try {
    const privateKey = requireX25519(createPrivateKey(pem));
    const publicKey = createPublicKey(privateKey);
    return { keyId: sealingKeyId(publicKey), publicKey, privateKey };
  } catch (err) {
    if (err instanceof SealedKeyError) throw err;
    throw new SealedKeyError("InvalidKey", "not an X25519 private key (PKCS#8 PEM)", { cause: err });
  }
}

/** The associated data binding a sealed key to its Secret. */
export function sealedKeyContext(cluster: string, namespace: string, name: string): string {
  return `${cluster}/${namespace}/${name}`;
}

export function sealPrivateKey(plaintext: Uint8Array, recipient: KeyObject, context: string): SealedKey {
  const ephemeral = generateKeyPairSync("x25519");
  const epk = rawPublicKey(ephemeral.publicKey);
  const key = deriveKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient }), epk, recipient);
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(new TextEncoder().encode(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return {
    alg: SEALED_KEY_ALG,
    keyId: sealingKeyId(recipient),
    epk: epk.toString("base64url"),
    nonce: nonce.toString("base64url"),
    ciphertext: ciphertext.toString("base64url"),
  };
}

/**
 * Opens a sealed key with whichever of `keys` it was sealed to. Throws SealedKeyError:
 * `UnknownKey` when none is, `Undecryptable` when the ciphertext, nonce, ephemeral key
 * or context do not authenticate.
 */
export function openPrivateKey(sealed: SealedKey, keys: readonly SealingKeyPair[], context: string): Buffer {
  if (sealed.alg !== SEALED_KEY_ALG) {
    throw new SealedKeyError("UnsupportedAlgorithm", `sealed with "${String(sealed.alg)}", expected ${SEALED_KEY_ALG}`);
  }
  const own = keys.find((k) => k.keyId === sealed.keyId);
  if (!own) throw new SealedKeyError("UnknownKey", `sealed to key ${sealed.keyId}, which this process does not hold`);
  const epk = Buffer.from(sealed.epk, "base64url");
  const nonce = Buffer.from(sealed.nonce, "base64url");
  const body = Buffer.from(sealed.ciphertext, "base64url");
  if (epk.length !== 32 || nonce.length !== 12 || body.length < 16) {
    throw new SealedKeyError("Undecryptable", "epk, nonce or ciphertext has the wrong length");
  }
  try {
    const ephemeral = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: sealed.epk }, format: "jwk" });
    const key = deriveKey(diffieHellman({ privateKey: own.privateKey, publicKey: ephemeral }), epk, own.publicKey);
    const decipher = createDecipheriv("aes-256-gcm", key, nonce);
    decipher.setAAD(new TextEncoder().encode(context));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
  } catch (err) {
    throw new SealedKeyError("Undecryptable", "the sealed key does not open with this key pair and context", { cause: err });
  }
}

function deriveKey(shared: Buffer, epk: Buffer, recipient: KeyObject): Buffer {
  const salt = Buffer.concat([epk, rawPublicKey(recipient)]);
  return Buffer.from(hkdfSync("sha256", shared, salt, INFO, 32));
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: "jwk" });
  if (typeof jwk.x !== "string") throw new SealedKeyError("InvalidKey", "not an X25519 public key");
  return Buffer.from(jwk.x, "base64url");
}

function requireX25519(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== "x25519") {
    throw new SealedKeyError("InvalidKey", `a ${key.asymmetricKeyType ?? "symmetric"} key, not X25519`);
  }
  return key;
}
