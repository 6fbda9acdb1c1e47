import { ApiException, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeApiserver, startKubeApiserver } from "./kube-apiserver.js";
import { waitFor } from "./process.js";

// The first run on a machine builds kube-apiserver and etcd from source
// (tools/envtest/build.sh, several minutes); afterwards start-up takes seconds.
const SETUP_TIMEOUT_MS = 30 * 60_000;

const NS = "sharedlb-envtest";
const SA = "lb-controller";

function kubeconfigFrom(yaml: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(yaml);
  return kc;
}

function kubeconfigFromFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

async function httpStatusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe("kube-apiserver envtest harness", () => {
  let kube: KubeApiserver;
  let core: CoreV1Api;

  beforeAll(async () => {
    kube = await startKubeApiserver();
    core = kubeconfigFrom(kube.adminKubeconfig).makeApiClient(CoreV1Api);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await kube?.stop();
  }, 30_000);

  it("serves a CA-verified admin kubeconfig", () => {
    const kc = kubeconfigFrom(kube.adminKubeconfig);
    const cluster = kc.getCurrentCluster();
    expect(cluster?.server).toBe(kube.url);
    expect(cluster?.skipTLSVerify).toBeFalsy();
    expect(cluster?.caData).toBeTruthy();
    expect(kube.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("allocates a nodePort for a LoadBalancer Service and serves its status subresource", async () => {
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: SA } } });

    const svc = await core.createNamespacedService({
      namespace: NS,
      body: {
        metadata: { name: "web" },
        spec: {
          type: "LoadBalancer",
          loadBalancerClass: "sharedlb.io/envoy",
          selector: { app: "web" },
          ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
        },
      },
    });
    expect(svc.spec?.loadBalancerClass).toBe("sharedlb.io/envoy");
    expect(svc.spec?.clusterIP).toMatch(/^10\.96\.\d+\.\d+$/);
    const nodePort = svc.spec?.ports?.[0]?.nodePort;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    expect(nodePort).toBeLessThanOrEqual(32767);

    // No controller touches the status: only what we write shows up.
    const updated = await core.replaceNamespacedServiceStatus({
      name: "web",
      namespace: NS,
      body: { ...svc, status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] } } },
    });
    expect(updated.status?.loadBalancer?.ingress?.[0]?.ip).toBe("192.0.2.10");
    const read = await core.readNamespacedService({ name: "web", namespace: NS });
    expect(read.status?.loadBalancer?.ingress?.[0]?.ip).toBe("192.0.2.10");
  });

  it("issues ServiceAccount tokens and enforces RBAC for them", async () => {
    const token = await kube.tokenFor(NS, SA);
    expect(token.split(".")).toHaveLength(3);

    // The apiserver authenticates the token as the ServiceAccount.
    const review = await kube.request("/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      method: "POST",
      token,
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    });
    expect(review.status).toBe(201);
    expect(review.body).toMatchObject({
      status: { userInfo: { username: `system:serviceaccount:${NS}:${SA}` } },
    });

    // No RBAC grants yet: listing Services cluster-wide is forbidden.
    const saCore = kubeconfigFromFile(await kube.kubeconfigFor(NS, SA)).makeApiClient(CoreV1Api);
    expect(await httpStatusOf(saCore.listServiceForAllNamespaces())).toBe(403);
    expect(await httpStatusOf(saCore.listNamespacedService({ namespace: NS }))).toBe(403);

    // A namespaced grant takes effect (the RBAC authorizer's cache is eventually
    // consistent, hence the deadline) while cluster-wide access stays forbidden.
    const rbac = kubeconfigFrom(kube.adminKubeconfig).makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: NS,
      body: {
        metadata: { name: "services-reader" },
        rules: [{ apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch"] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: NS,
      body: {
        metadata: { name: "services-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "services-reader" },
        subjects: [{ kind: "ServiceAccount", name: SA, namespace: NS }],
      },
    });
    const names = await waitFor(
      async () => {
        try {
          const list = await saCore.listNamespacedService({ namespace: NS });
          return list.items.map((s) => s.metadata?.name);
        } catch (err) {
          if (err instanceof ApiException && err.code === 403) return undefined;
          throw err;
        }
      },
      { what: "the RoleBinding to take effect", timeoutMs: 10_000 },
    );
    expect(names).toEqual(["web"]);
    expect(await httpStatusOf(saCore.listServiceForAllNamespaces())).toBe(403);
  });
});
