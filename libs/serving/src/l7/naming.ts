// L7 resource names (docs/l7-model.md §3): part of the external surface, built only here.
import type { BackendProtocol, L7ListenerKind } from "./types.js";

/** `<pool>/<ip>/<port>`: the key of an L7 slot. */
export function l7SlotKey(pool: string, ip: string, port: number): string {
  return `${pool}/${ip}/${port}`;
}

/** `http-<ip>-<port>` or `https-<ip>-<port>`: the Listener and, for HTTP, its RouteConfiguration. */
export function l7ListenerName(kind: L7ListenerKind, ip: string, port: number): string {
  return `${kind}-${ip}-${port}`;
}

/** `https-<ip>-<port>/<hostname>`: the RouteConfiguration of one TLS filter chain. */
export function chainRouteName(ip: string, port: number, hostname: string): string {
  return `${l7ListenerName("https", ip, port)}/${hostname}`;
}

/** `<cluster>/<ns>/<svc>/http-<port>` (or h2-, tls-): one EDS cluster per backend port and protocol. */
export function l7ClusterName(cluster: string, namespace: string, service: string, protocol: BackendProtocol, port: number): string {
  return `${cluster}/${namespace}/${service}/${protocol}-${port}`;
}

/** `<cluster>/<ns>/<secret>`: the SDS Secret of a certificate. */
export function sdsSecretName(cluster: string, namespace: string, name: string): string {
  return `${cluster}/${namespace}/${name}`;
}

/** `grpc/<hostname>`: the RouteConfiguration of a proxyless gRPC API listener named `<hostname>`. */
export function grpcHostRouteName(hostname: string): string {
  return `grpc/${hostname}`;
}
