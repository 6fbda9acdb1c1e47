import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { describeError, errorDetails, type Logger } from "@sharedlb/runtime";
import { MTLS_PEER_CHECK, NO_PEER_CHECK, type PeerCheck } from "./envoy-identity.js";

/** How ADS is served: the gRPC credentials and the per-stream check that goes with them. */
export interface AdsTransport {
  readonly credentials: grpc.ServerCredentials;
  readonly peerCheck: PeerCheck;
  readonly security: "mtls" | "insecure";
}

export const INSECURE_TRANSPORT: AdsTransport = {
  credentials: grpc.ServerCredentials.createInsecure(),
  peerCheck: NO_PEER_CHECK,
  security: "insecure",
};

/** PEM files of mutual TLS for ADS. */
export interface AdsTlsFiles {
  /** The gateway's certificate chain. */
  readonly certFile: string;
  readonly keyFile: string;
  /** CA bundle Envoy client certificates must chain to (the fleet CA). */
  readonly clientCaFile: string;
}

export type AdsTlsReason = "Unreadable" | "InvalidCertificate" | "InvalidKeyPair" | "InvalidClientCa";

/** ADS TLS material that cannot be used; names the file, never its contents. */
export class AdsTlsError extends Error {
  override readonly name = "AdsTlsError";
  constructor(
    readonly reason: AdsTlsReason,
    message: string,
  ) {
    super(message);
  }
}

interface Material {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
  /** The server certificate's expiry, for logs. */
  readonly notAfter: string;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new AdsTlsError("Unreadable", `${what} ${file} cannot be read: ${describeError(err)}`);
  }
}

/** Reads and checks the files: each parses, and the key belongs to the certificate. */
export function loadAdsTls(files: AdsTlsFiles): Material {
  const cert = read(files.certFile, "ADS certificate");
  const key = read(files.keyFile, "ADS private key");
  const ca = read(files.clientCaFile, "ADS client CA");
  let notAfter: string;
  try {
    notAfter = new X509Certificate(cert).validTo;
  } catch (err) {
    throw new AdsTlsError("InvalidCertificate", `ADS certificate ${files.certFile} is not a PEM certificate: ${describeError(err)}`);
  }
  try {
    new X509Certificate(ca);
  } catch (err) {
    throw new AdsTlsError("InvalidClientCa", `ADS client CA ${files.clientCaFile} is not a PEM certificate: ${describeError(err)}`);
  }
  try {
    createSecureContext({ cert, key, ca });
  } catch (err) {
    // OpenSSL's messages ("key values mismatch", "bad decrypt") never quote key material.
    throw new AdsTlsError(
      "InvalidKeyPair",
      `ADS private key ${files.keyFile} does not fit certificate ${files.certFile}: ${describeError(err)}`,
    );
  }
  return { cert, key, ca, notAfter };
}

const contextOptions = (m: Material): SecureContextOptions => ({ cert: m.cert, key: m.key, ca: m.ca });

/**
 * Server credentials whose certificate, key and CA can be replaced while serving: new
 * connections use the new ones, open connections keep theirs until they reach
 * --max-connection-age. The TLS layer asks for a client certificate but does not
 * reject a connection without one: each stream is then refused with UNAUTHENTICATED and
 * a message saying why, which an operator can read on both sides (a handshake failure
 * says nothing useful to either).
 */
class RotatingServerCredentials extends grpc.ServerCredentials {
  constructor(initial: SecureContextOptions) {
    super({ requestCert: true, rejectUnauthorized: false }, initial);
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }

  replace(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }
}

export interface RotationHooks {
  readonly onReload: (outcome: "reloaded" | "failed") => void;
}

/**
 * Mutual TLS for ADS from files, re-read every `refreshMs` (cert-manager and the kubelet
 * replace Secret files in place). A change that does not load (half-written files, a key
 * that does not match) is logged and skipped: the gateway keeps serving the last good
 * material and tries again on the next tick.
 */
export class MtlsTransport implements AdsTransport {
  readonly peerCheck = MTLS_PEER_CHECK;
  readonly security = "mtls";
  private readonly creds: RotatingServerCredentials;
  private current: Material;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly files: AdsTlsFiles,
    private readonly log: Logger,
    private readonly hooks: RotationHooks = { onReload() {} },
  ) {
    this.current = loadAdsTls(files);
    this.creds = new RotatingServerCredentials(contextOptions(this.current));
  }

  get credentials(): grpc.ServerCredentials {
    return this.creds;
  }

  /** When the served certificate expires (X.509 notAfter). */
  get notAfter(): string {
    return this.current.notAfter;
  }

  startRefresh(refreshMs: number): void {
    this.stopRefresh();
    this.timer = setInterval(() => this.refresh(), refreshMs);
    this.timer.unref();
  }

  stopRefresh(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads the files; replaces the served material if they changed and load. */
  refresh(): void {
    let next: Material;
    try {
      next = loadAdsTls(this.files);
    } catch (err) {
      this.hooks.onReload("failed");
      this.log.error({ err: errorDetails(err) }, "ADS TLS files changed but do not load; still serving the previous certificate");
      return;
    }
    if (next.cert.equals(this.current.cert) && next.key.equals(this.current.key) && next.ca.equals(this.current.ca)) return;
    this.current = next;
    this.creds.replace(contextOptions(next));
    this.hooks.onReload("reloaded");
    this.log.info({ cert: this.files.certFile, notAfter: next.notAfter }, "ADS TLS certificate, key or client CA reloaded");
  }
}
