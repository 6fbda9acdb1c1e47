import { type CoreV1Api, KubeConfig, NetworkingV1Api, type V1Service } from "@kubernetes/client-node";
import type { AnyCloudEvent } from "@sharedlb/contracts";
import { waitFor } from "@sharedlb/testing";
import type { KubeApiserver } from "@sharedlb/testing/kube";
import { resources, type TenantEnv } from "./harness.js";

// Creating Gateway API objects (no typed client for CRDs) and waiting for what the
// watcher publishes: the L7 integration tests' shared steps.

export const GATEWAY_V1 = "gateway.networking.k8s.io/v1";

const PLURALS: Record<string, string> = {
  GatewayClass: "gatewayclasses",
  Gateway: "gateways",
  HTTPRoute: "httproutes",
  GRPCRoute: "grpcroutes",
  TLSRoute: "tlsroutes",
  ReferenceGrant: "referencegrants",
};

export interface GatewayApiObject {
  kind: keyof typeof PLURALS | string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec: unknown;
}

function path(kind: string, namespace: string | undefined, name?: string): string {
  const plural = PLURALS[kind];
  if (!plural) throw new Error(`no plural for ${kind}`);
  const ns = namespace ? `/namespaces/${namespace}` : "";
  return `/apis/gateway.networking.k8s.io/v1${ns}/${plural}${name ? `/${name}` : ""}`;
}

/** Creates a Gateway API object as the tenant (admin); fails the test on any refusal. */
export async function createGatewayApi(kube: KubeApiserver, obj: GatewayApiObject): Promise<void> {
  const res = await kube.request(path(obj.kind, obj.metadata.namespace), { method: "POST", body: { apiVersion: GATEWAY_V1, ...obj } });
  if (res.status !== 201) throw new Error(`creating ${obj.kind} ${obj.metadata.name}: HTTP ${res.status} ${res.text.slice(0, 500)}`);
}

export async function deleteGatewayApi(kube: KubeApiserver, kind: string, namespace: string | undefined, name: string): Promise<void> {
  const res = await kube.request(path(kind, namespace, name), { method: "DELETE" });
  if (res.status !== 200 && res.status !== 202) throw new Error(`deleting ${kind} ${name}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
}

/** Polls the last value of a resource subject until `ok` holds; the error shows the last one seen. */
export function waitForResource(env: TenantEnv, subject: string, ok: (e: AnyCloudEvent | undefined) => boolean, what: string): Promise<AnyCloudEvent | undefined> {
  let last: AnyCloudEvent | undefined;
  return waitFor(
    `${subject}: ${what}`,
    async () => {
      last = (await resources(env.fx)).get(subject);
      return ok(last) ? { event: last } : undefined;
    },
    30_000,
    50,
  ).then(
    (r) => r.event,
    (err: Error) => {
      throw new Error(`${err.message}; last: ${JSON.stringify(last?.data)}`);
    },
  );
}

export function backendService(core: CoreV1Api, namespace: string, name: string, type: "ClusterIP" | "NodePort", appProtocol?: string): Promise<V1Service> {
  return core.createNamespacedService({
    namespace,
    body: {
      metadata: { name },
      spec: {
        type,
        selector: { app: name },
        ports: [{ name: "http", port: 8080, targetPort: 8080, protocol: "TCP", ...(appProtocol ? { appProtocol } : {}) }],
      },
    },
  });
}

export function tlsSecretBody(name: string, pair: { cert: string; key: string }) {
  return {
    metadata: { name },
    type: "kubernetes.io/tls",
    data: { "tls.crt": Buffer.from(pair.cert).toString("base64"), "tls.key": Buffer.from(pair.key).toString("base64") },
  };
}

/**
 * Creates the IngressClass `sharedlb` (once per cluster) and an Ingress of it with one rule:
 * `host` / → Service `backend`:8080, and TLS for the host with `tlsSecret` when given.
 */
export async function createSharedlbIngress(env: TenantEnv, namespace: string, name: string, host: string, backend: string, tlsSecret?: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromString(env.kube.adminKubeconfig);
  const net = kc.makeApiClient(NetworkingV1Api);
  const classes = await net.listIngressClass();
  if (!classes.items.some((c) => c.metadata?.name === "sharedlb")) {
    await net.createIngressClass({ body: { metadata: { name: "sharedlb" }, spec: { controller: "sharedlb.io/ingress-controller" } } });
  }
  await net.createNamespacedIngress({
    namespace,
    body: {
      metadata: { name },
      spec: {
        ingressClassName: "sharedlb",
        ...(tlsSecret ? { tls: [{ hosts: [host], secretName: tlsSecret }] } : {}),
        rules: [{ host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: backend, port: { number: 8080 } } } }] } }],
      },
    },
  });
}
