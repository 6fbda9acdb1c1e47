import { existsSync } from "node:fs";
import type { KubeConfig } from "@kubernetes/client-node";
import { ConfigError } from "@sharedlb/runtime";
import { PooledKubeConfig } from "./pooled-kubeconfig.js";

const SA_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * `--kubeconfig <path>` when given, else the in-cluster service account. Fails with a
 * ConfigError that says which of the two was missing, instead of client-node's
 * `https://undefined:undefined` server when run outside a cluster without a path. The
 * result reuses its connections (see PooledKubeConfig).
 */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new PooledKubeConfig();
  if (path) {
    try {
      kc.loadFromFile(path);
    } catch (err) {
      throw new ConfigError(`--kubeconfig ${path}: ${(err as Error).message}`);
    }
  } else {
    if (!process.env.KUBERNETES_SERVICE_HOST || !existsSync(SA_TOKEN)) {
      throw new ConfigError(
        "not running in a Kubernetes cluster (no KUBERNETES_SERVICE_HOST or service-account token): pass --kubeconfig <path>",
      );
    }
    kc.loadFromCluster();
  }
  if (!kc.getCurrentCluster()) throw new ConfigError(`--kubeconfig ${path ?? "(in-cluster)"}: no current cluster`);
  return kc;
}
