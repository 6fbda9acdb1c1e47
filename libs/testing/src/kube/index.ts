export {
  type EnsureKubeBinariesOptions,
  ensureKubeBinaries,
  findBuildScript,
  type KubeBinaries,
} from "./binaries.js";
export { type KubeRequestOptions, type KubeResponse, kubeRequest } from "./http.js";
export {
  type KubeApiserver,
  type StartKubeApiserverOptions,
  startKubeApiserver,
  type TokenForOptions,
} from "./kube-apiserver.js";
export { type RenderKubeconfigOptions, renderKubeconfig } from "./kubeconfig.js";
