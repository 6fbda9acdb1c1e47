export { AdsServer, type AdsServerOptions, DEFAULT_ADS_OPTIONS } from "./adapters/ads-server.js";
export type { StreamDeps } from "./adapters/ads-stream.js";
export { WriteBudget } from "./adapters/write-budget.js";
export { NO_EVENTS, type XdsActivityInput, type XdsEventSink } from "./adapters/xds-events.js";
export { AdsCall, AdsClient, type AdsClientOptions } from "./client/ads-client.js";
export { type ResponseHead, readResponseHead } from "./client/response-head.js";
export { Gateway, type GatewayHooks, type RebuildStats } from "./gateway.js";
export { type GatewayMetrics, gatewayMetrics } from "./metrics.js";
