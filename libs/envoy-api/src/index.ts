// Generated namespaces: every message is a class with static create/encode/
// decode/fromObject/toObject/getTypeUrl, plus `<Message>.$Properties` (the
// plain-object shape encode() accepts). Fields are camelCase, except
// google.protobuf.Any's `type_url` (see toAny in any.js), and 64-bit integers
// are plain numbers.
export { envoy, google, xds } from "../generated/envoy.js";
export {
  type AdsStream,
  AggregatedDiscoveryService,
  type AggregatedDiscoveryServiceDefinition,
  type AggregatedDiscoveryServiceHandlers,
  DELTA_AGGREGATED_RESOURCES_PATH,
  type DeltaAdsStream,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DeltaDiscoveryResponseHead,
  type DeltaDiscoveryResponseOut,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type DiscoveryResponseHead,
  type DiscoveryResponseOut,
  encodeDeltaDiscoveryResponse,
  encodeDeltaResource,
  encodeDiscoveryResponse,
  STREAM_AGGREGATED_RESOURCES_PATH,
} from "./ads.js";
export { encodeAny, encodeMessage, type MessageType, packAny, toAny, typeNameOf, unpackAny } from "./any.js";
export {
  CLUSTER_TYPE,
  DOWNSTREAM_TLS_CONTEXT_TYPE,
  ENDPOINT_TYPE,
  HTTP_CONNECTION_MANAGER_FILTER_NAME,
  HTTP_CONNECTION_MANAGER_TYPE,
  HTTP_PROTOCOL_OPTIONS_KEY,
  HTTP_PROTOCOL_OPTIONS_TYPE,
  isResourceTypeUrl,
  LISTENER_TYPE,
  PROXY_PROTOCOL_TRANSPORT_SOCKET_NAME,
  PROXY_PROTOCOL_UPSTREAM_TYPE,
  RAW_BUFFER_TRANSPORT_SOCKET_NAME,
  RAW_BUFFER_TYPE,
  RESOURCE_TYPES,
  type ResourceTypeUrl,
  ROUTE_TYPE,
  ROUTER_FILTER_NAME,
  ROUTER_TYPE,
  SECRET_TYPE,
  TCP_PROXY_FILTER_NAME,
  TCP_PROXY_TYPE,
  TLS_INSPECTOR_FILTER_NAME,
  TLS_INSPECTOR_TYPE,
  TLS_TRANSPORT_SOCKET_NAME,
  TYPE_URL_PREFIX,
  UDP_PROXY_FILTER_NAME,
  UDP_PROXY_ROUTE_TYPE,
  UDP_PROXY_TYPE,
} from "./type-urls.js";
export { type KnownNames, type ResourceByTypeUrl, validateDiscoveryResponse, validateResource } from "./validate.js";
