// Resource names are part of the external surface (Envoy stats and admin pages, the
// xds:/// targets tenants put in their gRPC clients), so they are built in one place and
// documented in the xds-gateway README ("What is served").

export type L4Protocol = "TCP" | "UDP";

/** `tcp-203.0.113.10-443`: one Listener per (IP, protocol, external port). */
export function listenerName(protocol: L4Protocol, ip: string, externalPort: number): string {
  return `${protocol.toLowerCase()}-${ip}-${externalPort}`;
}

/**
 * `a/shop/web/tcp-443`: one Cluster per (tenant Service, service port). The protocol is
 * part of the name because a Service may expose 53/TCP and 53/UDP.
 */
export function clusterName(cluster: string, namespace: string, name: string, protocol: L4Protocol, servicePort: number): string {
  return `${cluster}/${namespace}/${name}/${protocol.toLowerCase()}-${servicePort}`;
}

/**
 * Name of the API listener (and its RouteConfiguration) for proxyless gRPC, and the path
 * of the client's target `xds:///<this>`: `<port>.<service>.<namespace>.<cluster>`, where
 * `<port>` is the service port's name when it has one, else its number. Port names are
 * IANA service names (they always contain a letter), so the two forms never collide.
 */
export function grpcTargetName(cluster: string, namespace: string, name: string, portName: string, servicePort: number): string {
  return `${portName !== "" ? portName : String(servicePort)}.${name}.${namespace}.${cluster}`;
}

/** Envoy stat prefixes are dot-separated hierarchies: keep IPs and slashes from splitting them. */
export function statPrefix(resourceName: string): string {
  return resourceName.replace(/[^A-Za-z0-9_-]/g, "_");
}
