export {
  type EnsureKubeBinariesOptions,
  ensureKubeBinaries,
  findBuildScript,
  type KubeBinaries,
  runCacheScript,
} from "./binaries.js";
export type { Crd, CrdsOptions } from "./crds.js";
export { installCertManagerCrds } from "./cert-manager.js";
export { type GatewayApiCrdsOptions, gatewayApiCrds, installGatewayApiCrds } from "./gateway-api.js";
export { type KubeRequestOptions, type KubeResponse, kubeRequest } from "./http.js";
export {
  type KubeApiserver,
  type StartKubeApiserverOptions,
  startKubeApiserver,
  type TokenForOptions,
} from "./kube-apiserver.js";
export { type RenderKubeconfigOptions, renderKubeconfig } from "./kubeconfig.js";
