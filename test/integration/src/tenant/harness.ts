import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  setHeaderOptions,
  type V1Service,
} from "@kubernetes/client-node";
import { type AnyCloudEvent, type DeadLetter, decodeEvent, STREAM_NAMES, type StatusReport, subjects } from "@sharedlb/contracts";
import {
  type ManagedProcess,
  type NatsFixture,
  type NatsOptions,
  type NatsSecurity,
  natsFixture,
  type RedisOptions,
  readLastValues,
  startNats,
  startProcess,
  startRedis,
  type TestNats,
  type TestRedis,
  waitFor,
} from "@sharedlb/testing";
import { type KubeApiserver, startKubeApiserver } from "@sharedlb/testing/kube";
import { startAllocator, writePoolFile } from "../../../../services/allocator/src/test-support/allocator-process.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const WATCHER_MAIN = join(ROOT, "services/watcher/dist/main.js");
export const REPORTER_MAIN = join(ROOT, "services/status-reporter/dist/main.js");
export const TENANT_MANIFESTS = join(ROOT, "deploy/k8s/tenant");
export const SYSTEM_NS = "sharedlb-system";
export const CLASS = "sharedlb.io/envoy";

/** Fast leader election for tests: a killed leader is replaced within ~2 s. */
export const FAST_LEASE = ["--lease-duration", "2s", "--lease-renew-deadline", "1500ms", "--lease-retry-period", "200ms"];

export interface TenantProcessOptions {
  cluster: string;
  replica: string;
  extra?: string[];
  waitFor?: RegExp;
  /**
   * Start the process again whenever it exits, as the kubelet does for a Deployment's pod
   * (restartPolicy Always): a leader that loses its lease exits by design.
   */
  restartOnExit?: boolean;
}

export interface TenantEnv {
  kube: KubeApiserver;
  nats: TestNats;
  redis: TestRedis;
  fx: NatsFixture;
  /** Admin clients: the test plays the tenant and the cluster's own controllers. */
  core: CoreV1Api;
  discovery: DiscoveryV1Api;
  /** Kubeconfigs of the tenant ServiceAccounts, bound by deploy/k8s/tenant. */
  watcherKubeconfig: string;
  reporterKubeconfig: string;
  startWatcher(opts: TenantProcessOptions): Promise<ManagedProcess>;
  startReporter(opts: TenantProcessOptions): Promise<ManagedProcess>;
  /** How often supervised processes (`restartOnExit`) were started again, by replica. */
  restarts: Map<string, number>;
  startAllocator(pools: string, replica?: string): Promise<ManagedProcess>;
  /** What every process started through this env, and the nats-server, wrote so far: for scans of the whole run. */
  logs(): ProcessLog[];
  /** Stops every process started through this env, then the servers. */
  stop(): Promise<void>;
}

export interface ProcessLog {
  /** The replica name, or "nats-server". */
  process: string;
  output: string;
}

/**
 * One isolated tenant world per test file: its own kube-apiserver, nats-server and
 * redis-server, the tenant RBAC of deploy/k8s/tenant applied, and the services run as OS
 * processes through their real command lines with ServiceAccount tokens.
 */
export interface TenantEnvOptions {
  /** A nats-server configuration (authorization, TLS): security tests. */
  nats?: NatsOptions;
  /** The identity the test fixture and the allocator connect with, when NATS requires one. */
  lbSecurity?: { fixture: NatsSecurity; allocatorArgs: string[]; allocatorEnv?: NodeJS.ProcessEnv };
  /** Arguments every watcher and status-reporter of `cluster` gets first (its identity, verify-only streams). */
  tenantArgs?: (cluster: string) => string[];
  /** redis-server AUTH and TLS; the allocator's matching flags go in `lbSecurity`. */
  redis?: RedisOptions;
  /** Install the Gateway API CRDs (tools/gateway-api) into the tenant kube-apiserver: L7 tests. */
  gatewayApiCrds?: boolean;
  /** kube-apiserver --service-cluster-ip-range; one CIDR per family allows dual-stack Services. */
  serviceClusterIpRange?: string;
}

export async function startTenantEnv(opts: TenantEnvOptions = {}): Promise<TenantEnv> {
  const started = await Promise.allSettled([
    startKubeApiserver({ gatewayApiCrds: opts.gatewayApiCrds ?? false, ...(opts.serviceClusterIpRange ? { serviceClusterIpRange: opts.serviceClusterIpRange } : {}) }),
    startNats(opts.nats),
    startRedis(opts.redis),
  ]);
  const disposeServers = () =>
    Promise.all(started.map((r) => (r.status === "fulfilled" ? ("dispose" in r.value ? r.value.dispose() : r.value.stop()) : undefined)));
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    await disposeServers();
    throw failed.reason;
  }
  const [kube, nats, redis] = started.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [KubeApiserver, TestNats, TestRedis];
  const procs: { name: string; p: ManagedProcess }[] = [];
  const kc = new KubeConfig();
  kc.loadFromString(kube.adminKubeconfig);
  let watcherKubeconfig: string;
  let reporterKubeconfig: string;
  let fx: NatsFixture;
  try {
    await applyManifests(kc, TENANT_MANIFESTS);
    [watcherKubeconfig, reporterKubeconfig] = await Promise.all([
      kube.kubeconfigFor(SYSTEM_NS, "sharedlb-watcher"),
      kube.kubeconfigFor(SYSTEM_NS, "sharedlb-status-reporter"),
    ]);
    await waitForRbac(kube, "sharedlb-watcher", "/api/v1/services?limit=1");
    await waitForRbac(kube, "sharedlb-status-reporter", "/api/v1/services?limit=1");
    fx = await natsFixture(nats.url, opts.lbSecurity?.fixture);
  } catch (err) {
    // Nothing may outlive a failed setup: afterAll never sees an env to stop.
    await disposeServers();
    throw err;
  }

  let stopping = false;
  const restarts = new Map<string, number>();
  const spawnTenantProcess = (main: string, kubeconfig: string, o: TenantProcessOptions): ManagedProcess => {
    const p = startProcess(process.execPath, [
      main,
      "--cluster",
      o.cluster,
      "--kubeconfig",
      kubeconfig,
      "--nats-url",
      nats.url,
      "--replica",
      o.replica,
      "--log-level",
      "info",
      ...FAST_LEASE,
      ...(opts.tenantArgs?.(o.cluster) ?? []),
      ...(o.extra ?? []),
    ]);
    procs.push({ name: o.replica, p });
    if (o.restartOnExit) {
      void p.exited.then(() => {
        if (stopping) return;
        restarts.set(o.replica, (restarts.get(o.replica) ?? 0) + 1);
        spawnTenantProcess(main, kubeconfig, o);
      });
    }
    return p;
  };
  const run = async (main: string, kubeconfig: string, ready: RegExp, o: TenantProcessOptions) => {
    const p = spawnTenantProcess(main, kubeconfig, o);
    await p.waitForOutput(o.waitFor ?? ready, 60_000);
    return p;
  };

  return {
    kube,
    nats,
    redis,
    fx,
    core: kc.makeApiClient(CoreV1Api),
    discovery: kc.makeApiClient(DiscoveryV1Api),
    watcherKubeconfig,
    reporterKubeconfig,
    restarts,
    startWatcher: (o) => run(WATCHER_MAIN, watcherKubeconfig, /resync done/, o),
    startReporter: (o) => run(REPORTER_MAIN, reporterKubeconfig, /initial reconcile done/, o),
    startAllocator: async (pools, replica = "alloc-1") => {
      const p = await startAllocator({
        config: writePoolFile(pools),
        natsUrl: nats.url,
        redisUrl: redis.url,
        replica,
        extra: opts.lbSecurity?.allocatorArgs ?? [],
        env: opts.lbSecurity?.allocatorEnv ?? {},
      });
      procs.push({ name: replica, p });
      return p;
    },
    logs: () => [...procs.map(({ name, p }) => ({ process: name, output: p.output() })), { process: "nats-server", output: nats.output() }],
    stop: async () => {
      stopping = true;
      await Promise.all(procs.map(({ p }) => p.stop(5_000)));
      await fx.close().catch(() => undefined);
      await Promise.all([nats.dispose(), redis.dispose(), kube.stop()]);
    },
  };
}

const RBAC_KINDS = new Set(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]);

/**
 * Creates the identity and RBAC objects of the YAML files in `dir` (file-name order,
 * namespace sharedlb-system where none is given, as the directory's kustomization does).
 * Workloads are left out: no controllers run here, the test starts the processes itself.
 */
export async function applyManifests(kc: KubeConfig, dir: string): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && !f.startsWith("kustomization"))
    .sort()) {
    for (const obj of loadAllYaml(readFileSync(join(dir, file), "utf8")) as KubernetesObject[]) {
      if (!obj?.kind || !RBAC_KINDS.has(obj.kind)) continue;
      const namespaced = !["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(obj.kind);
      if (namespaced) obj.metadata = { ...obj.metadata, namespace: obj.metadata?.namespace ?? SYSTEM_NS };
      await api.create(obj);
    }
  }
}

/** The RBAC authorizer's cache is eventually consistent: wait until the grant is visible. */
async function waitForRbac(kube: KubeApiserver, sa: string, path: string): Promise<void> {
  const token = await kube.tokenFor(SYSTEM_NS, sa);
  await waitFor(`RBAC for ${sa}`, async () => (await kube.request(path, { token })).status === 200, 20_000);
}

export async function createNamespace(core: CoreV1Api, name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
}

export interface ServiceSpec {
  ports?: { name?: string; port: number; protocol?: "TCP" | "UDP" }[];
  annotations?: Record<string, string>;
  loadBalancerClass?: string | null;
  externalTrafficPolicy?: "Cluster" | "Local";
  ipFamilies?: ("IPv4" | "IPv6")[];
  ipFamilyPolicy?: "SingleStack" | "PreferDualStack" | "RequireDualStack";
}

export function createLoadBalancer(core: CoreV1Api, namespace: string, name: string, s: ServiceSpec = {}): Promise<V1Service> {
  return core.createNamespacedService({
    namespace,
    body: {
      metadata: { name, annotations: s.annotations ?? {} },
      spec: {
        type: "LoadBalancer",
        ...(s.loadBalancerClass === null ? {} : { loadBalancerClass: s.loadBalancerClass ?? CLASS }),
        ...(s.externalTrafficPolicy ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
        ...(s.ipFamilies ? { ipFamilies: s.ipFamilies } : {}),
        ...(s.ipFamilyPolicy ? { ipFamilyPolicy: s.ipFamilyPolicy } : {}),
        selector: { app: name },
        ports: (s.ports ?? [{ name: "http", port: 80 }]).map((p) => ({
          name: p.name ?? `p${p.port}`,
          port: p.port,
          protocol: p.protocol ?? "TCP",
        })),
      },
    },
  });
}

export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Polls a Service until `ok` holds; returns it. */
export function waitForService(
  core: CoreV1Api,
  namespace: string,
  name: string,
  ok: (s: V1Service) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<V1Service> {
  let last: V1Service | undefined;
  return waitFor(
    `${namespace}/${name}: ${what}`,
    async () => {
      last = await core.readNamespacedService({ name, namespace });
      return ok(last) ? last : undefined;
    },
    timeoutMs,
    50,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}; last seen status=${JSON.stringify(last?.status)} annotations=${JSON.stringify(last?.metadata?.annotations)}`,
    );
  });
}

export function condition(svc: V1Service) {
  return (svc.status?.conditions ?? []).find((c) => c.type === "sharedlb.io/Allocated");
}

/** Core/v1 view of the Events regarding one Service (events.k8s.io Events are the same objects). */
export async function eventsFor(core: CoreV1Api, namespace: string, name: string) {
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items;
}

/** Last value of every subject of LB_RESOURCES, decoded. */
export function resources(fx: NatsFixture): Promise<Map<string, AnyCloudEvent>> {
  return readLastValues(fx.js, fx.jsm, STREAM_NAMES.resources, (subject, data) => [subject, decodeEvent(data)]);
}

/** Every status report in LB_EVENTS for one Service, oldest first. */
export async function statusReports(fx: NatsFixture, subject: string): Promise<StatusReport[]> {
  const out: StatusReport[] = [];
  const info = await fx.jsm.streams.info(STREAM_NAMES.events);
  if (info.state.messages === 0) return out;
  const m = await readAll(fx, subject);
  for (const ev of m) if (ev.type === "io.sharedlb.status.v1") out.push(ev.data);
  return out;
}

/** Every dead letter a service published in LB_EVENTS, oldest first. */
export async function deadLetters(fx: NatsFixture, service: string): Promise<DeadLetter[]> {
  const info = await fx.jsm.streams.info(STREAM_NAMES.events);
  if (info.state.messages === 0) return [];
  return (await readAll(fx, subjects.deadletter(service))).flatMap((ev) => (ev.type === "io.sharedlb.deadletter.v1" ? [ev.data] : []));
}

async function readAll(fx: NatsFixture, subject: string): Promise<AnyCloudEvent[]> {
  const { DeliverPolicy } = await import("@nats-io/jetstream");
  const consumer = await fx.js.consumers.get(STREAM_NAMES.events, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
  const info = await consumer.info(true);
  const out: AnyCloudEvent[] = [];
  if (info.num_pending === 0) return out;
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push(decodeEvent(m.data));
    if (m.info.pending === 0) break;
  }
  await messages.close();
  return out;
}
