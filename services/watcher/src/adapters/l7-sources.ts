import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  NetworkingV1Api,
  type V1Ingress,
  type V1IngressClass,
  type V1Namespace,
  type V1Secret,
} from "@kubernetes/client-node";
import { ApiResourceDiscovery, SupervisedInformer } from "@sharedlb/kube";
import type { Logger } from "@sharedlb/runtime";
import type { L7Objects } from "../app/ports.js";
import { GATEWAY_GROUP, type Gateway, type GatewayApiObject, type GatewayClass, type ReferenceGrant } from "../domain/l7/gateway-api.js";
import type { GatewayRoute, GatewayRouteKind } from "../domain/l7/routes.js";
import type { NamespaceInfo } from "../domain/l7/view.js";
import { type L7Kind, refKey } from "../domain/keys.js";

export interface L7SourcesOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  /** The work-queue key of an L7 object that may have changed. */
  onKey: (key: string) => void;
  /** Something every L7 object may depend on changed (a class, a grant, a namespace, a Gateway, a newly watched kind). */
  onContext: () => void;
  /** A Secret changed: the Gateways and Ingresses that refer to it may change too. */
  onSecret: (namespace: string, name: string) => void;
  onInformerRestart: (informer: string) => void;
  /** Cap of the backoff between Gateway API discovery polls. */
  discoveryCapMs: number;
}

const TLS_SECRETS = "type=kubernetes.io/tls";
const ROUTE_PLURALS: Record<GatewayRouteKind, string> = { HTTPRoute: "httproutes", GRPCRoute: "grpcroutes", TLSRoute: "tlsroutes" };
const GATEWAY_API_RESOURCES = ["gatewayclasses", "gateways", "referencegrants", ...Object.values(ROUTE_PLURALS)] as const;
type GatewayApiResource = (typeof GATEWAY_API_RESOURCES)[number];
const ROUTE_KEY_KIND: Record<GatewayRouteKind, L7Kind> = { HTTPRoute: "httproute", GRPCRoute: "grpcroute", TLSRoute: "tlsroute" };

/**
 * The watcher's L7 view of the cluster: informers on IngressClasses, Ingresses, Namespaces
 * and kubernetes.io/tls Secrets (a field selector: no other Secret is ever read), and on
 * the Gateway API kinds once discovery shows the cluster serves them (CRDs may be
 * installed after the watcher started).
 */
export class L7Sources implements L7Objects {
  private readonly ingressClasses: SupervisedInformer<V1IngressClass>;
  private readonly ingresses: SupervisedInformer<V1Ingress>;
  private readonly namespaceInformer: SupervisedInformer<V1Namespace>;
  private readonly secrets: SupervisedInformer<V1Secret>;
  private readonly gatewayApi = new Map<GatewayApiResource, SupervisedInformer<GatewayApiObject>>();
  private readonly discovery: ApiResourceDiscovery;
  private readonly custom: CustomObjectsApi;
  private stopped = false;

  constructor(private readonly opts: L7SourcesOptions) {
    const core = opts.kubeConfig.makeApiClient(CoreV1Api);
    const networking = opts.kubeConfig.makeApiClient(NetworkingV1Api);
    this.custom = opts.kubeConfig.makeApiClient(CustomObjectsApi);
    this.ingressClasses = new SupervisedInformer<V1IngressClass>({
      ...this.common("ingressclasses"),
      path: "/apis/networking.k8s.io/v1/ingressclasses",
      list: () => networking.listIngressClass(),
      onChange: () => opts.onContext(),
    });
    this.ingresses = new SupervisedInformer<V1Ingress>({
      ...this.common("ingresses"),
      path: "/apis/networking.k8s.io/v1/ingresses",
      list: () => networking.listIngressForAllNamespaces(),
      onChange: (ing) => opts.onKey(refKey({ kind: "ingress", namespace: ing.metadata?.namespace ?? "", name: ing.metadata?.name ?? "" })),
    });
    this.namespaceInformer = new SupervisedInformer<V1Namespace>({
      ...this.common("namespaces"),
      path: "/api/v1/namespaces",
      list: () => core.listNamespace(),
      onChange: () => opts.onContext(),
    });
    this.secrets = new SupervisedInformer<V1Secret>({
      ...this.common("secrets"),
      path: "/api/v1/secrets",
      fieldSelector: TLS_SECRETS,
      list: () => core.listSecretForAllNamespaces({ fieldSelector: TLS_SECRETS }),
      onChange: (s) => opts.onSecret(s.metadata?.namespace ?? "", s.metadata?.name ?? ""),
    });
    this.discovery = new ApiResourceDiscovery({
      kubeConfig: opts.kubeConfig,
      group: GATEWAY_GROUP,
      version: "v1",
      resources: GATEWAY_API_RESOURCES,
      onServed: (r) => this.watchGatewayApi(r as GatewayApiResource),
      log: opts.log,
      capMs: opts.discoveryCapMs,
    });
  }

  start(): void {
    this.stopped = false;
    for (const i of this.coreInformers()) i.start();
    this.discovery.start();
  }

  /**
   * Resolves when the caches hold every L7 object: the core kinds synced, discovery answered
   * and every Gateway API kind served then synced. Before that, a published route would look
   * deleted and get a tombstone.
   */
  async waitForSync(): Promise<void> {
    await Promise.all([...this.coreInformers().map((i) => i.waitForSync()), this.discovery.firstAnswer()]);
    await Promise.all([...this.gatewayApi.values()].map((i) => i.waitForSync()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.discovery.stop();
    await Promise.all([...this.coreInformers(), ...this.gatewayApi.values()].map((i) => i.stop()));
  }

  /** True when the caches hold every L7 object of the cluster: discovery answered and every watched kind synced. */
  get complete(): boolean {
    return this.discovery.answered && this.coreInformers().every((i) => i.synced) && [...this.gatewayApi.values()].every((i) => i.synced);
  }

  listIngresses(): readonly V1Ingress[] {
    return this.ingresses.list();
  }
  ingress(namespace: string, name: string): V1Ingress | undefined {
    return this.ingresses.get(name, namespace);
  }
  listGateways(): readonly Gateway[] {
    return (this.gatewayApi.get("gateways")?.list() ?? []) as Gateway[];
  }
  gateway(namespace: string, name: string): Gateway | undefined {
    return this.gatewayApi.get("gateways")?.get(name, namespace) as Gateway | undefined;
  }
  listRoutes(kind: GatewayRouteKind): readonly GatewayRoute[] {
    return (this.gatewayApi.get(ROUTE_PLURALS[kind])?.list() ?? []) as GatewayRoute[];
  }
  route(kind: GatewayRouteKind, namespace: string, name: string): GatewayRoute | undefined {
    return this.gatewayApi.get(ROUTE_PLURALS[kind])?.get(name, namespace) as GatewayRoute | undefined;
  }
  gatewayClass(name: string): GatewayClass | undefined {
    return this.gatewayApi.get("gatewayclasses")?.get(name) as GatewayClass | undefined;
  }
  referenceGrants(namespace: string): readonly ReferenceGrant[] {
    return (this.gatewayApi.get("referencegrants")?.list(namespace) ?? []) as ReferenceGrant[];
  }
  ingressClass(name: string): V1IngressClass | undefined {
    return this.ingressClasses.get(name);
  }
  listIngressClasses(): readonly V1IngressClass[] {
    return this.ingressClasses.list();
  }
  namespaces(): readonly NamespaceInfo[] {
    return this.namespaceInformer.list().map(namespaceInfo);
  }
  namespace(name: string): NamespaceInfo | undefined {
    const ns = this.namespaceInformer.get(name);
    return ns && namespaceInfo(ns);
  }
  secret(namespace: string, name: string): V1Secret | undefined {
    return this.secrets.get(name, namespace);
  }
  listSecrets(): readonly V1Secret[] {
    return this.secrets.list();
  }

  private coreInformers(): SupervisedInformer<V1IngressClass | V1Ingress | V1Namespace | V1Secret>[] {
    return [this.ingressClasses, this.ingresses, this.namespaceInformer, this.secrets] as SupervisedInformer<
      V1IngressClass | V1Ingress | V1Namespace | V1Secret
    >[];
  }

  private common(name: string) {
    return { name, kubeConfig: this.opts.kubeConfig, log: this.opts.log, onRestart: () => this.opts.onInformerRestart(name) };
  }

  /** Starts the informer of a Gateway API kind the cluster now serves; a full pass follows its first sync. */
  private watchGatewayApi(resource: GatewayApiResource): void {
    if (this.stopped || this.gatewayApi.has(resource)) return;
    const routeKind = (Object.keys(ROUTE_PLURALS) as GatewayRouteKind[]).find((k) => ROUTE_PLURALS[k] === resource);
    const informer = new SupervisedInformer<GatewayApiObject>({
      ...this.common(resource),
      path: `/apis/${GATEWAY_GROUP}/v1/${resource}`,
      list: () => this.listCustom(resource),
      onChange: (obj) => {
        if (routeKind) {
          this.opts.onKey(refKey({ kind: ROUTE_KEY_KIND[routeKind], namespace: obj.metadata?.namespace ?? "", name: obj.metadata?.name ?? "" }));
        } else this.opts.onContext();
      },
    });
    this.gatewayApi.set(resource, informer);
    informer.start();
    void informer.waitForSync().then(() => {
      if (!this.stopped) this.opts.onContext();
    });
  }

  private async listCustom(plural: string): Promise<KubernetesListObject<GatewayApiObject>> {
    const list: unknown = await this.custom.listClusterCustomObject({ group: GATEWAY_GROUP, version: "v1", plural });
    const items = (list as { items?: unknown }).items;
    const metadata = (list as { metadata?: { resourceVersion?: string } }).metadata ?? {};
    if (!Array.isArray(items)) throw new Error(`listing ${plural}: the answer has no items`);
    return { apiVersion: `${GATEWAY_GROUP}/v1`, kind: "List", metadata, items: items as GatewayApiObject[] };
  }
}

function namespaceInfo(ns: V1Namespace): NamespaceInfo {
  return { name: ns.metadata?.name ?? "", labels: ns.metadata?.labels ?? {} };
}
