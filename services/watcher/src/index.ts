export { normalizeService, sharedlbAnnotations } from "./domain/service.js";
export { normalizeNode } from "./domain/node.js";
export { normalizeEndpoints } from "./domain/endpoints.js";
