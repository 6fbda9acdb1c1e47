// Literal types (not `string`) so a switch over a DiscoveryRequest's type URL
// can be checked for exhaustiveness. envoy-api.test.ts checks each constant
// against the generated class' getTypeUrl().

export const TYPE_URL_PREFIX = "type.googleapis.com/";

// xDS resource types served over ADS.
export const LISTENER_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener";
export const CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
export const ENDPOINT_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
export const ROUTE_TYPE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
/** SDS: TLS certificates of L7 listeners, on the same ADS stream. */
export const SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

export const RESOURCE_TYPES = [LISTENER_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE, ROUTE_TYPE, SECRET_TYPE] as const;
export type ResourceTypeUrl = (typeof RESOURCE_TYPES)[number];

/** True for the resource types this package models. */
export function isResourceTypeUrl(typeUrl: string): typeUrl is ResourceTypeUrl {
  return (RESOURCE_TYPES as readonly string[]).includes(typeUrl);
}

// Extension configs carried in typed_config Anys.
export const TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
export const UDP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig";
export const UDP_PROXY_ROUTE_TYPE = "type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route";
export const HTTP_CONNECTION_MANAGER_TYPE =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export const ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
export const PROXY_PROTOCOL_UPSTREAM_TYPE =
  "type.googleapis.com/envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport";
export const RAW_BUFFER_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";
export const DOWNSTREAM_TLS_CONTEXT_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
export const TLS_INSPECTOR_TYPE = "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector";
export const HTTP_PROTOCOL_OPTIONS_TYPE = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

// Well-known Envoy extension names to use as Filter/TransportSocket `name`.
// Envoy selects the factory by the typed_config type URL; the name only
// shows up in logs and stats, but these are the conventional values.
export const TCP_PROXY_FILTER_NAME = "envoy.filters.network.tcp_proxy";
export const UDP_PROXY_FILTER_NAME = "envoy.filters.udp_listener.udp_proxy";
export const HTTP_CONNECTION_MANAGER_FILTER_NAME = "envoy.filters.network.http_connection_manager";
export const ROUTER_FILTER_NAME = "envoy.filters.http.router";
export const PROXY_PROTOCOL_TRANSPORT_SOCKET_NAME = "envoy.transport_sockets.upstream_proxy_protocol";
export const RAW_BUFFER_TRANSPORT_SOCKET_NAME = "envoy.transport_sockets.raw_buffer";
export const TLS_TRANSPORT_SOCKET_NAME = "envoy.transport_sockets.tls";
export const TLS_INSPECTOR_FILTER_NAME = "envoy.filters.listener.tls_inspector";
/** The key of `typed_extension_protocol_options` Envoy looks the HTTP upstream options up by. */
export const HTTP_PROTOCOL_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
