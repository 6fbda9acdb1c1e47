import { join } from "node:path";
import { type CrdsOptions, pinnedCrds } from "./crds.js";
import type { KubeApiserver } from "./kube-apiserver.js";

/** `dir` default: `$SHAREDLB_CERT_MANAGER_CRDS_DIR`, else what tools/cert-manager/fetch.sh prints. */
const certManager = pinnedCrds(join("tools", "cert-manager", "fetch.sh"), "SHAREDLB_CERT_MANAGER_CRDS_DIR");

/**
 * cert-manager's CRDs (Certificate, Issuer, …) of the pinned release in a test kube-apiserver,
 * Established and served, so the shipped cert-manager objects can be dry-run against them.
 */
export function installCertManagerCrds(kube: KubeApiserver, opts: CrdsOptions = {}): Promise<string[]> {
  return certManager.install(kube, opts);
}
