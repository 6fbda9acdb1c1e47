import { CustomObjectsApi, type KubeConfig, NetworkingV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { apiStatusCode } from "@sharedlb/kube";
import type { L7ObjectStore } from "../app/ports.js";
import { GATEWAY_GROUP, type L7ObjectKind } from "../domain/l7/gateway-api.js";
import type { L7StatusPatch } from "../domain/l7/l7-plan.js";

const MERGE = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Plural of each Gateway API kind (all served as v1 by the pinned standard channel). */
const PLURALS = {
  gatewayclass: "gatewayclasses",
  gateway: "gateways",
  httproute: "httproutes",
  grpcroute: "grpcroutes",
  tlsroute: "tlsroutes",
} as const;

/**
 * Reads L7 objects and merge-patches their status subresource: the Gateway API kinds
 * through the custom objects API, Ingress through networking/v1. Only `get` and
 * `patch` of status are used (least privilege: no list, no watch).
 */
export class KubeL7ObjectStore implements L7ObjectStore {
  private readonly custom: CustomObjectsApi;
  private readonly networking: NetworkingV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.networking = kubeConfig.makeApiClient(NetworkingV1Api);
  }

  /** The object, or undefined when it does not exist (or its kind is not installed). */
  async get(kind: L7ObjectKind, namespace: string, name: string): Promise<unknown> {
    try {
      if (kind === "ingress") return await this.networking.readNamespacedIngress({ name, namespace });
      const plural = PLURALS[kind];
      if (kind === "gatewayclass") return await this.custom.getClusterCustomObject({ group: GATEWAY_GROUP, version: "v1", plural, name });
      return await this.custom.getNamespacedCustomObject({ group: GATEWAY_GROUP, version: "v1", namespace, plural, name });
    } catch (err) {
      if (apiStatusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async patchStatus(kind: L7ObjectKind, namespace: string, name: string, body: L7StatusPatch): Promise<unknown> {
    if (kind === "ingress") return this.networking.patchNamespacedIngressStatus({ name, namespace, body }, MERGE);
    const plural = PLURALS[kind];
    if (kind === "gatewayclass") {
      return this.custom.patchClusterCustomObjectStatus({ group: GATEWAY_GROUP, version: "v1", plural, name, body }, MERGE);
    }
    return this.custom.patchNamespacedCustomObjectStatus({ group: GATEWAY_GROUP, version: "v1", namespace, plural, name, body }, MERGE);
  }
}
