import { CoreV1Api, type KubeConfig, type V1Service } from "@kubernetes/client-node";
import { apiStatusCode } from "@sharedlb/kube";
import type { CompanionStore } from "../app/ports.js";

/** Writes companion Services through the watcher's ServiceAccount (create/update/delete Services). */
export class KubeCompanionStore implements CompanionStore {
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async create(svc: V1Service): Promise<void> {
    await this.core.createNamespacedService({ namespace: svc.metadata?.namespace ?? "", body: svc });
  }

  async replace(svc: V1Service): Promise<void> {
    const name = svc.metadata?.name ?? "";
    await this.core.replaceNamespacedService({ name, namespace: svc.metadata?.namespace ?? "", body: svc });
  }

  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedService({ name, namespace });
    } catch (err) {
      if (apiStatusCode(err) !== 404) throw err;
    }
  }
}
