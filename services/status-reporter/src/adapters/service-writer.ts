import { CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions, type V1Service } from "@kubernetes/client-node";
import { ANNOTATIONS } from "@sharedlb/contracts";
import type { StatusPatch } from "../domain/status-plan.js";

const SMP = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
const MERGE = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Writes a planned status to a Service, and reads one fresh when a write conflicts. */
export class ServiceWriter {
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /**
   * One status-subresource patch carries status and annotation together, so the two never
   * disagree and a Service costs one write. Should an apiserver ignore metadata on the
   * status subresource, the annotation follows in a patch of the Service itself.
   */
  async apply(namespace: string, name: string, patch: StatusPatch): Promise<V1Service> {
    let written = await this.core.patchNamespacedServiceStatus({ name, namespace, body: patch.body }, SMP);
    if (patch.annotation !== undefined && (written.metadata?.annotations?.[ANNOTATIONS.allocatedPorts] ?? null) !== patch.annotation) {
      written = await this.core.patchNamespacedService(
        {
          name,
          namespace,
          body: { metadata: { uid: patch.body.metadata.uid, annotations: { [ANNOTATIONS.allocatedPorts]: patch.annotation } } },
        },
        MERGE,
      );
    }
    return written;
  }

  read(namespace: string, name: string): Promise<V1Service> {
    return this.core.readNamespacedService({ name, namespace });
  }
}
