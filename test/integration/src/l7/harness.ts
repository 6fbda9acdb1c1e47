import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, type KubernetesObject, KubernetesObjectApi, NetworkingV1Api, type V1Node } from "@kubernetes/client-node";
import { generateSealingKeyPair, type SealingKeyPair } from "@sharedlb/contracts";
import {
  type ManagedProcess,
  type NatsFixture,
  natsFixture,
  startNats,
  startProcess,
  startRedis,
  type TestNats,
  type TestRedis,
  waitFor,
} from "@sharedlb/testing";
import { type KubeApiserver, startKubeApiserver } from "@sharedlb/testing/kube";
import { startAllocator, writePoolFile } from "../../../../services/allocator/src/test-support/allocator-process.js";
import { type GatewayProcess, startGateway, writeFleetFile } from "../../../../services/xds-gateway/src/test-support/gateway-process.js";
import { applyManifests, FAST_LEASE, REPORTER_MAIN, SYSTEM_NS, TENANT_MANIFESTS, WATCHER_MAIN } from "../tenant/harness.js";

// The L7 world of the end-to-end tests: N tenant clusters (each its own real
// kube-apiserver with the Gateway API CRDs and the tenant RBAC of deploy/k8s/tenant), one
// NATS and one Redis of the LB side, and the four services as OS processes through their
// real command lines: a watcher and a status-reporter per tenant, an allocator and an
// xds-gateway holding the sealing private key (the watchers get only the public key).

/** The watcher's flag for the gateways' sealing public key (a PEM file). */
export const WATCHER_SEALING_FLAG = "--sealing-public-key";
/** The xds-gateway's flag for its sealing private keys (comma-separated PEM files). */
export const GATEWAY_SEALING_FLAG = "--sealing-keys";

export interface Tenant {
  readonly id: string;
  readonly kube: KubeApiserver;
  readonly core: CoreV1Api;
  readonly networking: NetworkingV1Api;
  /** Any object, by apiVersion/kind: Gateway API objects. */
  readonly objects: KubernetesObjectApi;
  watcher: ManagedProcess;
  reporter: ManagedProcess;
}

export interface L7WorldOptions {
  clusters: readonly string[];
  /** The allocator's pool file (YAML). */
  pools: string;
  /** The gateway's fleet file (YAML). */
  fleets: string;
  watcherArgs?: readonly string[];
}

export interface L7World {
  readonly nats: TestNats;
  readonly redis: TestRedis;
  readonly fx: NatsFixture;
  readonly tenants: ReadonlyMap<string, Tenant>;
  readonly gateway: GatewayProcess;
  readonly sealing: SealingKeyPair;
  /** Every `lb.>` message seen since start, as raw text (what an auditor subscribed to `lb.>` sees). */
  wire(): string;
  /** Everything every service process wrote so far (stdout and stderr). */
  logs(): string;
  tenant(id: string): Tenant;
  stop(): Promise<void>;
}

function writeTemp(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "sharedlb-l7-")), name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

async function startTenant(
  id: string,
  kube: KubeApiserver,
  natsUrl: string,
  publicKeyPath: string,
  procs: ManagedProcess[],
  extra: readonly string[],
): Promise<Tenant> {
  const kc = new KubeConfig();
  kc.loadFromString(kube.adminKubeconfig);
  await applyManifests(kc, TENANT_MANIFESTS);
  const [watcherKc, reporterKc] = await Promise.all([
    kube.kubeconfigFor(SYSTEM_NS, "sharedlb-watcher"),
    kube.kubeconfigFor(SYSTEM_NS, "sharedlb-status-reporter"),
  ]);
  const token = await kube.tokenFor(SYSTEM_NS, "sharedlb-watcher");
  await waitFor(
    `RBAC of the watcher of ${id}`,
    async () => (await kube.request("/api/v1/services?limit=1", { token })).status === 200,
    20_000,
  );
  const common = (replica: string, kubeconfig: string) => [
    "--cluster",
    id,
    "--kubeconfig",
    kubeconfig,
    "--nats-url",
    natsUrl,
    "--replica",
    replica,
    "--log-level",
    "info",
    ...FAST_LEASE,
  ];
  const watcher = startProcess(process.execPath, [
    WATCHER_MAIN,
    ...common(`w-${id}`, watcherKc),
    WATCHER_SEALING_FLAG,
    publicKeyPath,
    ...extra,
  ]);
  const reporter = startProcess(process.execPath, [REPORTER_MAIN, ...common(`r-${id}`, reporterKc)]);
  procs.push(watcher, reporter);
  await Promise.all([watcher.waitForOutput(/resync done/, 60_000), reporter.waitForOutput(/initial reconcile done/, 60_000)]);
  return {
    id,
    kube,
    core: kc.makeApiClient(CoreV1Api),
    networking: kc.makeApiClient(NetworkingV1Api),
    objects: KubernetesObjectApi.makeApiClient(kc),
    watcher,
    reporter,
  };
}

export async function startL7World(opts: L7WorldOptions): Promise<L7World> {
  const started = await Promise.allSettled([
    startNats(),
    startRedis(),
    ...opts.clusters.map(() => startKubeApiserver({ gatewayApiCrds: true })),
  ]);
  const [natsR, redisR, ...kubeR] = started;
  const procs: ManagedProcess[] = [];
  let fx: NatsFixture | undefined;
  let sub: ReturnType<NatsFixture["nc"]["subscribe"]> | undefined;
  let gateway: GatewayProcess | undefined;
  const stopAll = async () => {
    sub?.unsubscribe();
    await gateway?.stop();
    await Promise.all(procs.map((p) => p.stop(5_000)));
    await fx?.close().catch(() => undefined);
    await Promise.all(
      started.map((r) => {
        if (r.status !== "fulfilled") return undefined;
        const v = r.value;
        return "dispose" in v ? v.dispose() : v.stop();
      }),
    );
  };
  try {
    const failed = started.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    const nats = (natsR as PromiseFulfilledResult<TestNats>).value;
    const redis = (redisR as PromiseFulfilledResult<TestRedis>).value;
    const kubes = kubeR.map((r) => (r as PromiseFulfilledResult<KubeApiserver>).value);
    fx = await natsFixture(nats.url);
    let wire = "";
    sub = fx.nc.subscribe("lb.>", {
      callback: (_err, m) => {
        wire += `${m.subject} ${m.string()}\n`;
      },
    });

    const sealing = generateSealingKeyPair();
    const publicKeyPath = writeTemp("sealing.pub", sealing.publicKey.export({ type: "spki", format: "pem" }).toString());
    const privateKeyPath = writeTemp("sealing.key", sealing.privateKey.export({ type: "pkcs8", format: "pem" }).toString());

    procs.push(await startAllocator({ config: writePoolFile(opts.pools), natsUrl: nats.url, redisUrl: redis.url, replica: "alloc-l7" }));
    gateway = await startGateway(nats.url, writeFleetFile(opts.fleets), "gw-l7", [GATEWAY_SEALING_FLAG, privateKeyPath]);
    const tenants = new Map<string, Tenant>();
    const list = await Promise.all(
      opts.clusters.map((id, i) => startTenant(id, kubes[i] as KubeApiserver, nats.url, publicKeyPath, procs, opts.watcherArgs ?? [])),
    );
    for (const t of list) tenants.set(t.id, t);
    const gw = gateway;
    return {
      nats,
      redis,
      fx,
      tenants,
      gateway: gw,
      sealing,
      wire: () => wire,
      logs: () => [gw.proc, ...procs].map((p) => p.output()).join("\n"),
      tenant: (id) => {
        const t = tenants.get(id);
        if (!t) throw new Error(`no tenant cluster ${id}`);
        return t;
      },
      stop: stopAll,
    };
  } catch (err) {
    // Nothing may outlive a failed setup: afterAll never sees a world to stop.
    await stopAll();
    throw err;
  }
}

/** A Ready node with one InternalIP: the test plays the kubelet. */
export async function createNode(core: CoreV1Api, name: string, ip: string): Promise<void> {
  const created = await core.createNode({ body: { metadata: { name } } });
  const now = new Date();
  const status: V1Node["status"] = {
    addresses: [{ type: "InternalIP", address: ip }],
    conditions: [
      { type: "Ready", status: "True", reason: "KubeletReady", message: "ready", lastHeartbeatTime: now, lastTransitionTime: now },
    ],
  };
  await core.replaceNodeStatus({ name, body: { metadata: created.metadata, status } });
}

export const GATEWAY_API = "gateway.networking.k8s.io/v1";

/** Creates any object (Gateway API kinds included) as the tenant's admin. */
export async function apply<T extends KubernetesObject>(t: Tenant, obj: T): Promise<T> {
  return (await t.objects.create(obj)) as T;
}

/** Reads an object back (for its status), or undefined when it does not exist. */
export async function read<T extends KubernetesObject>(
  t: Tenant,
  apiVersion: string,
  kind: string,
  namespace: string,
  name: string,
): Promise<T | undefined> {
  try {
    return (await t.objects.read({ apiVersion, kind, metadata: { name, namespace } })) as T;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Waits until the object satisfies `ok`; the error carries its last status. */
export async function waitForObject<T extends KubernetesObject & { status?: unknown }>(
  t: Tenant,
  ref: { apiVersion: string; kind: string; namespace: string; name: string },
  what: string,
  ok: (o: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  let last: T | undefined;
  try {
    return await waitFor(
      `${ref.kind} ${t.id}/${ref.namespace}/${ref.name}: ${what}`,
      async () => {
        last = await read<T>(t, ref.apiVersion, ref.kind, ref.namespace, ref.name);
        return last && ok(last) ? last : undefined;
      },
      timeoutMs,
      200,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last status: ${JSON.stringify(last?.status)}`);
  }
}

export async function deleteObject(t: Tenant, apiVersion: string, kind: string, namespace: string, name: string): Promise<void> {
  await t.objects.delete({ apiVersion, kind, metadata: { name, namespace } });
}
