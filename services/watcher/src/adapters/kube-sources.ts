import { CoreV1Api, DiscoveryV1Api, type KubeConfig, type V1EndpointSlice, type V1Node, type V1Service } from "@kubernetes/client-node";
import { SupervisedInformer } from "@sharedlb/kube";
import type { Logger } from "@sharedlb/runtime";
import { SERVICE_NAME_LABEL } from "../domain/endpoints.js";
import { refKey } from "../domain/keys.js";
import type { ClusterObjects } from "../app/ports.js";

export interface KubeSourcesOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  /** Receives the work-queue key of every object that may have changed. */
  onKey: (key: string) => void;
  onInformerRestart: (informer: string) => void;
}

/**
 * The watcher's view of the cluster: informers on Services, Nodes and EndpointSlices
 * (cluster-wide), plus an index of slices by Service. Handlers only compute keys.
 */
export class KubeSources implements ClusterObjects {
  readonly services: SupervisedInformer<V1Service>;
  readonly nodes: SupervisedInformer<V1Node>;
  readonly slices: SupervisedInformer<V1EndpointSlice>;
  /** `namespace/service` → slice name → slice. */
  private readonly slicesByService = new Map<string, Map<string, V1EndpointSlice>>();

  constructor(opts: KubeSourcesOptions) {
    const core = opts.kubeConfig.makeApiClient(CoreV1Api);
    const discovery = opts.kubeConfig.makeApiClient(DiscoveryV1Api);
    const common = (name: string) => ({
      name,
      kubeConfig: opts.kubeConfig,
      log: opts.log,
      onRestart: () => opts.onInformerRestart(name),
    });
    this.services = new SupervisedInformer<V1Service>({
      ...common("services"),
      path: "/api/v1/services",
      list: () => core.listServiceForAllNamespaces(),
      onChange: (svc) => {
        const namespace = svc.metadata?.namespace ?? "";
        const name = svc.metadata?.name ?? "";
        opts.onKey(refKey({ kind: "service", namespace, name }));
        opts.onKey(refKey({ kind: "endpoints", namespace, name }));
      },
    });
    this.nodes = new SupervisedInformer<V1Node>({
      ...common("nodes"),
      path: "/api/v1/nodes",
      list: () => core.listNode(),
      onChange: (node) => opts.onKey(refKey({ kind: "node", namespace: "", name: node.metadata?.name ?? "" })),
    });
    this.slices = new SupervisedInformer<V1EndpointSlice>({
      ...common("endpointslices"),
      path: "/apis/discovery.k8s.io/v1/endpointslices",
      list: () => discovery.listEndpointSliceForAllNamespaces(),
      onChange: (slice, verb) => {
        const service = this.indexSlice(slice, verb);
        if (service) opts.onKey(refKey({ kind: "endpoints", namespace: slice.metadata?.namespace ?? "", name: service }));
      },
    });
  }

  start(): void {
    this.services.start();
    this.nodes.start();
    this.slices.start();
  }

  async waitForSync(): Promise<void> {
    await Promise.all([this.services.waitForSync(), this.nodes.waitForSync(), this.slices.waitForSync()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.services.stop(), this.nodes.stop(), this.slices.stop()]);
  }

  listServices(): readonly V1Service[] {
    return this.services.list();
  }

  listNodes(): readonly V1Node[] {
    return this.nodes.list();
  }

  service(namespace: string, name: string): V1Service | undefined {
    return this.services.get(name, namespace);
  }

  node(name: string): V1Node | undefined {
    return this.nodes.get(name);
  }

  slicesOf(namespace: string, service: string): V1EndpointSlice[] {
    return [...(this.slicesByService.get(`${namespace}/${service}`)?.values() ?? [])];
  }

  /** Keeps the by-Service index current; returns the Service the slice belongs to. */
  private indexSlice(slice: V1EndpointSlice, verb: "add" | "update" | "delete"): string | undefined {
    const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    const name = slice.metadata?.name ?? "";
    if (!service) return undefined;
    const key = `${slice.metadata?.namespace ?? ""}/${service}`;
    let byName = this.slicesByService.get(key);
    if (verb === "delete") {
      byName?.delete(name);
      if (byName?.size === 0) this.slicesByService.delete(key);
    } else {
      if (!byName) {
        byName = new Map();
        this.slicesByService.set(key, byName);
      }
      byName.set(name, slice);
    }
    return service;
  }
}
