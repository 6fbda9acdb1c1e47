import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";

// A kubernetes.io/tls Secret as sharedlb serves it: tls.crt a PEM chain whose first
// certificate is the leaf, tls.key its private key. Messages never quote key material.

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface TlsKeyPair {
  certificateChainPem: string;
  /** The private key as PEM (PKCS#8): the plaintext that gets sealed, never published. */
  privateKeyPem: Buffer;
  notAfter: string;
  dnsNames: string[];
}

/** Reads and checks the key pair; a message says why it cannot be served. */
export function readTlsKeyPair(secret: V1Secret, now: Date): TlsKeyPair | { problem: string } {
  if (secret.type !== "kubernetes.io/tls") return { problem: `type is ${secret.type ?? "Opaque"}, not kubernetes.io/tls` };
  const crt = decode(secret.data?.["tls.crt"]);
  const keyBytes = decode(secret.data?.["tls.key"]);
  if (!crt || crt.length === 0) return { problem: "tls.crt is empty" };
  if (!keyBytes || keyBytes.length === 0) return { problem: "tls.key is empty" };
  const pems = crt.toString("utf8").match(PEM_CERT) ?? [];
  if (pems.length === 0) return { problem: "tls.crt holds no PEM certificate" };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(pems[0] as string);
    for (const pem of pems.slice(1)) new X509Certificate(pem);
  } catch {
    return { problem: "tls.crt is not a valid PEM certificate chain" };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyBytes);
  } catch {
    // The parser's message can quote the input: say only what is wrong.
    return { problem: "tls.key is not a valid PEM private key" };
  }
  if (!leaf.checkPrivateKey(key)) return { problem: "tls.key does not belong to the certificate in tls.crt" };
  const notAfter = new Date(leaf.validTo);
  if (!(notAfter.getTime() > now.getTime())) return { problem: `the certificate expired at ${notAfter.toISOString()}` };
  const notBefore = new Date(leaf.validFrom);
  if (notBefore.getTime() > now.getTime()) return { problem: `the certificate is not valid before ${notBefore.toISOString()}` };
  return {
    certificateChainPem: chainPem(pems),
    privateKeyPem: Buffer.from(key.export({ format: "pem", type: "pkcs8" })),
    notAfter: notAfter.toISOString(),
    dnsNames: dnsNames(leaf),
  };
}

/** The certificate chain as a published Secret carries it (PEM blocks only), or undefined. */
export function readCertificateChain(secret: V1Secret | undefined): string | undefined {
  const pems = decode(secret?.data?.["tls.crt"])?.toString("utf8").match(PEM_CERT) ?? [];
  return pems.length > 0 ? chainPem(pems) : undefined;
}

function chainPem(pems: readonly string[]): string {
  return `${pems.join("\n")}\n`;
}

/** Why the Secret cannot serve TLS, or undefined. */
export function certificateProblem(secret: V1Secret, now: Date): string | undefined {
  const r = readTlsKeyPair(secret, now);
  return "problem" in r ? r.problem : undefined;
}

function dnsNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.startsWith("DNS:"))
    .map((s) => s.slice(4))
    .sort();
}

function decode(b64: string | undefined): Buffer | undefined {
  return b64 === undefined ? undefined : Buffer.from(b64, "base64");
}
