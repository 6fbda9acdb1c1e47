import * as grpc from "@grpc/grpc-js";
import type { IssuedCert, TestPki } from "@sharedlb/testing";
import { fleetUri } from "../domain/fleet-identity.js";

/** What a gateway serving ADS over mutual TLS needs, and an Envoy's side of it. */
export interface AdsPki {
  readonly pki: TestPki;
  /** --ads-tls-cert, --ads-tls-key, --ads-client-ca for the gateway (127.0.0.1, localhost). */
  readonly gatewayArgs: string[];
  readonly server: IssuedCert;
  /** A certificate naming `fleets`, and the channel credentials of an Envoy presenting it. */
  envoy(name: string, fleets: readonly string[]): { readonly cert: IssuedCert; readonly credentials: grpc.ChannelCredentials };
}

/** What an ADS client presents and trusts (PEM): the CA, and its key and certificate if any. */
export function clientCredentials(ca: string | Buffer, key?: string | Buffer, cert?: string | Buffer): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(Buffer.from(ca), key ? Buffer.from(key) : null, cert ? Buffer.from(cert) : null);
}

export function adsPki(pki: TestPki): AdsPki {
  const server = pki.issue("xds-gateway", { dns: ["localhost"], ip: ["127.0.0.1"] });
  return {
    pki,
    server,
    gatewayArgs: ["--ads-tls-cert", server.certFile, "--ads-tls-key", server.keyFile, "--ads-client-ca", pki.caFile],
    envoy(name, fleets) {
      const cert = pki.issue(name, { uri: fleets.map(fleetUri) });
      return { cert, credentials: clientCredentials(pki.ca, cert.key, cert.cert) };
    },
  };
}
