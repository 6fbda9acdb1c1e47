// Generated namespaces: every message is a class with static create/encode/
// decode/fromObject/toObject/getTypeUrl, plus `<Message>.$Properties` (the
// plain-object shape encode() accepts). Fields are camelCase, except
// google.protobuf.Any's `type_url` (see toAny in any.js), and 64-bit integers
// are plain numbers.
export { envoy, google, xds } from "../generated/envoy.js";
export * from "./ads.js";
export * from "./any.js";
export * from "./type-urls.js";
export * from "./validate.js";
