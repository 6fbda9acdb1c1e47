import { join } from "node:path";
import { type Crd, type CrdsOptions, pinnedCrds } from "./crds.js";
import type { KubeApiserver } from "./kube-apiserver.js";

/** `dir` default: `$SHAREDLB_GATEWAY_API_CRDS_DIR`, else what tools/gateway-api/fetch.sh prints. */
export type GatewayApiCrdsOptions = CrdsOptions;

const gatewayApi = pinnedCrds(join("tools", "gateway-api", "fetch.sh"), "SHAREDLB_GATEWAY_API_CRDS_DIR");

/** The Gateway API standard-channel CRDs of the pinned release, parsed (only the CRDs). */
export function gatewayApiCrds(opts: GatewayApiCrdsOptions = {}): Promise<Crd[]> {
  return gatewayApi.crds(opts);
}

/**
 * Creates the Gateway API CRDs in a test kube-apiserver and resolves once every one is
 * Established and its group is served, so objects can be created at once. Returns the
 * CRD names.
 */
export function installGatewayApiCrds(kube: KubeApiserver, opts: GatewayApiCrdsOptions = {}): Promise<string[]> {
  return gatewayApi.install(kube, opts);
}
