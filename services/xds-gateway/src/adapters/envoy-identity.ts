import type { PeerCertificate } from "node:tls";
import { certificateFleets, checkFleetIdentity, NO_CERTIFICATE, type Refusal } from "../domain/fleet-identity.js";

/** The part of a grpc-js server call that tells who the peer is (grpc-js' AuthContext, not exported). */
export interface AuthenticatedCall {
  getAuthContext(): { readonly sslPeerCertificate?: PeerCertificate | undefined };
}

/** Decides, per stream, whether its peer may be served (see domain/fleet-identity.ts). */
export interface PeerCheck {
  /** When the stream opens: refuses a peer without a verified client certificate. */
  onOpen(call: AuthenticatedCall): Refusal | undefined;
  /** On the first request: refuses a peer whose certificate does not name `fleet`. */
  onFleet(call: AuthenticatedCall, fleet: string): Refusal | undefined;
}

/**
 * Mutual TLS: grpc-js reports a peer certificate only when it verified against the
 * fleet CA (`authorized`), so "no certificate" covers both none and an untrusted one.
 */
export const MTLS_PEER_CHECK: PeerCheck = {
  onOpen: (call) => (verifiedFleets(call) === undefined ? NO_CERTIFICATE : undefined),
  onFleet: (call, fleet) => checkFleetIdentity(verifiedFleets(call), fleet),
};

/** `--ads-insecure`: every peer is served (tests and local runs only). */
export const NO_PEER_CHECK: PeerCheck = { onOpen: () => undefined, onFleet: () => undefined };

function verifiedFleets(call: AuthenticatedCall): string[] | undefined {
  const cert = call.getAuthContext().sslPeerCertificate;
  if (!cert) return undefined;
  return certificateFleets(cert.subjectaltname);
}
