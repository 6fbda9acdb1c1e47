import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PoolFileSchema, resolvePolicy } from "@sharedlb/allocator";
import { validateConfig } from "@sharedlb/runtime";
import { installCertManagerCrds, type KubeApiserver, startKubeApiserver } from "@sharedlb/testing/kube";
import { FleetFileSchema, resolveFleets } from "@sharedlb/serving";
import { type Applied, dryRun, type K8sObject, renderBase, renderKustomization } from "./k8s-manifests.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const LB_DIR = join(ROOT, "deploy/k8s/lb");
const TENANT_DIR = join(ROOT, "deploy/k8s/tenant");

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: { cpu?: string; memory?: string } };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Probe {
  httpGet?: { path: string; port: string | number; host?: string };
  tcpSocket?: { port: string | number; host?: string };
  exec?: { command: string[] };
}
interface PodSpec {
  hostNetwork?: boolean;
  dnsPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

const firstDocKinds = (dir: string) =>
  readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && f !== "kustomization.yaml")
    .sort();

/** A base rendered and submitted with server-side dry-run (k8s-manifests.ts). */
async function applyDryRun(api: KubeApiserver, dir: string, namespaceLabels: Record<string, string> = {}): Promise<Applied> {
  return dryRun(api, await renderBase(api, dir), namespaceLabels);
}

const find = <T extends K8sObject = K8sObject>(objects: K8sObject[], kind: string, name: string): T => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} in the rendered manifests`);
  return o as T;
};
const workloads = (objects: K8sObject[]) =>
  objects.filter((o): o is Workload => ["Deployment", "StatefulSet", "DaemonSet"].includes(o.kind));
const envOf = (c: Container, name: string) => c.env?.find((e) => e.name === name)?.value;
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Checks every workload must pass: probes, requests, a locked-down container. */
function checkWorkloads(objects: K8sObject[]): void {
  for (const w of workloads(objects)) {
    const pod = w.spec.template.spec;
    expect(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels), `${w.metadata.name} selector`).toBe(true);
    for (const c of pod.containers) {
      const where = `${w.kind}/${w.metadata.name} container ${c.name}`;
      expect(c.readinessProbe, `${where} readinessProbe`).toBeDefined();
      expect(c.livenessProbe, `${where} livenessProbe`).toBeDefined();
      expect(c.resources?.requests?.cpu, `${where} cpu request`).toBeDefined();
      expect(c.resources?.requests?.memory, `${where} memory request`).toBeDefined();
      expect(c.securityContext?.readOnlyRootFilesystem, `${where} read-only root fs`).toBe(true);
      expect(c.securityContext?.allowPrivilegeEscalation, `${where} no privilege escalation`).toBe(false);
      expect(c.securityContext?.capabilities?.drop, `${where} drops capabilities`).toEqual(["ALL"]);
      expect(c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, `${where} non-root`).toBe(true);
      expect(pod.securityContext?.runAsUser ?? 0, `${where} uid`).toBeGreaterThan(0);
      expect(c.image, `${where} image has no registry host`).not.toMatch(/^[^/]*[.:][^/]*\//);
      // The sharedlb services serve /healthz and /readyz on HTTP_ADDR.
      const httpAddr = envOf(c, "HTTP_ADDR");
      if (c.image.startsWith("sharedlb/")) {
        const port = c.ports?.find((p) => p.name === "http")?.containerPort;
        expect(httpAddr, `${where} HTTP_ADDR`).toBe(`0.0.0.0:${port}`);
        expect(c.livenessProbe?.httpGet?.path).toBe("/healthz");
        expect(c.readinessProbe?.httpGet?.path).toBe("/readyz");
        expect(c.readinessProbe?.httpGet?.port).toBe("http");
      }
    }
  }
  for (const pdb of objects.filter((o) => o.kind === "PodDisruptionBudget")) {
    const sel = (pdb as unknown as { spec: { selector: { matchLabels: Record<string, string> } } }).spec.selector.matchLabels;
    expect(
      workloads(objects).some((w) => matches(sel, w.spec.template.metadata.labels)),
      `PodDisruptionBudget/${pdb.metadata.name} selects a workload`,
    ).toBe(true);
  }
  // kustomize's namespace does not rewrite binding subjects here: they must already agree.
  for (const b of objects.filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding")) {
    for (const s of (b as unknown as { subjects: { kind: string; namespace?: string }[] }).subjects) {
      if (s.kind === "ServiceAccount") expect(s.namespace, `${b.kind}/${b.metadata.name} subject namespace`).toBe("sharedlb-system");
    }
  }
}

describe("deploy/k8s/lb", () => {
  let api: KubeApiserver;
  let applied: Applied;

  beforeAll(async () => {
    api = await startKubeApiserver();
    applied = await applyDryRun(api, LB_DIR);
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("lists every manifest in its kustomization", () => {
    const k = parse(readFileSync(join(LB_DIR, "kustomization.yaml"), "utf8")) as { resources: string[] };
    expect([...k.resources].sort()).toEqual(firstDocKinds(LB_DIR));
  });

  it("validates with server-side dry-run; only the hostNetwork Envoy falls short of PodSecurity restricted", () => {
    const kinds = applied.objects.map((o) => `${o.kind}/${o.metadata.name}`);
    for (const want of [
      "StatefulSet/nats",
      "StatefulSet/redis",
      "Deployment/sharedlb-allocator",
      "Deployment/sharedlb-xds-gateway",
      "Service/xds-gateway",
      "DaemonSet/envoy-edge",
      "ConfigMap/envoy-bootstrap",
      "PodDisruptionBudget/nats",
      "PodDisruptionBudget/sharedlb-allocator",
      "PodDisruptionBudget/sharedlb-xds-gateway",
      "Role/sharedlb-operator",
    ]) {
      expect(kinds).toContain(want);
    }
    expect(applied.objects.filter((o) => o.kind !== "Namespace").every((o) => o.metadata.namespace === "sharedlb-system")).toBe(true);
    expect([...applied.warnings.keys()]).toEqual(["DaemonSet/envoy-edge"]);
    // Exactly the two things hostNetwork implies (probes reach the loopback admin port);
    // user, capabilities, seccomp and volumes are restricted-clean even there.
    const envoy = (applied.warnings.get("DaemonSet/envoy-edge") ?? "").replaceAll('\\"', '"');
    const violations = /would violate PodSecurity "restricted:latest": (.*)"$/.exec(envoy)?.[1] ?? envoy;
    expect(violations.split(/, (?=[a-z][a-z ]+ \()/).map((v) => v.replace(/ \(.*$/, ""))).toEqual([
      "host namespaces",
      "probe or lifecycle host",
    ]);
  });

  it("really validates: a misspelt field or a bad value is refused", async () => {
    const gw = structuredClone(find<Workload>(applied.objects, "Deployment", "sharedlb-xds-gateway"));
    const path = "/apis/apps/v1/namespaces/sharedlb-system/deployments?dryRun=All&fieldValidation=Strict";
    const typo = await api.request(path, { method: "POST", body: { ...gw, spec: { ...gw.spec, replica: 2 } } });
    expect(typo.status).toBe(400);
    expect(typo.text).toContain('unknown field \\"spec.replica\\"');
    const bad = structuredClone(gw);
    (bad.spec.template.spec.containers[0] as Container).ports = [{ name: "grpc", containerPort: 70000 }];
    expect((await api.request(path, { method: "POST", body: bad })).status).toBe(422);
  });

  it("runs the topology the design asks for", () => {
    const o = applied.objects;
    expect(find<Workload>(o, "StatefulSet", "nats").spec.replicas).toBe(3);
    expect(find<Workload>(o, "Deployment", "sharedlb-allocator").spec.replicas).toBe(3);
    expect(find<Workload>(o, "Deployment", "sharedlb-xds-gateway").spec.replicas).toBe(2);
    const natsConf = (find(o, "ConfigMap", "nats-config") as unknown as { data: Record<string, string> }).data["nats.conf"] ?? "";
    expect(natsConf).toMatch(/jetstream \{/);
    expect(natsConf.match(/nats:\/\/nats-\d\.nats-headless:6222/g)).toHaveLength(3);
    const redisConf = (find(o, "ConfigMap", "redis-config") as unknown as { data: Record<string, string> }).data["redis.conf"] ?? "";
    expect(redisConf).toMatch(/^appendonly yes$/m);
    const redis = find<Workload>(o, "StatefulSet", "redis");
    expect(redis.spec.template.spec.containers[0]?.volumeMounts?.some((m) => m.mountPath === "/data")).toBe(true);
    for (const [name, url] of [
      ["sharedlb-allocator", "NATS_URL"],
      ["sharedlb-xds-gateway", "NATS_URL"],
    ] as const) {
      const c = find<Workload>(o, "Deployment", name).spec.template.spec.containers[0];
      expect(c && envOf(c, url)).toBe("nats://nats:4222");
      expect(c && envOf(c, "SHAREDLB_STREAM_REPLICAS")).toBe("3");
    }
    checkWorkloads(o);
  });

  it("ships configuration the services themselves accept", () => {
    const pools = (find(applied.objects, "ConfigMap", "sharedlb-pools") as unknown as { data: Record<string, string> }).data["pools.yaml"];
    const policy = resolvePolicy(validateConfig("pools.yaml", parse(pools ?? ""), PoolFileSchema));
    const fleetsText = (find(applied.objects, "ConfigMap", "sharedlb-fleets") as unknown as { data: Record<string, string> }).data[
      "fleets.yaml"
    ];
    const fleets = resolveFleets(validateConfig("fleets.yaml", parse(fleetsText ?? ""), FleetFileSchema));
    for (const f of fleets)
      for (const p of f.pools) expect(policy.pools.has(p), `fleet ${f.name} pool ${p} exists in pools.yaml`).toBe(true);
    const allocator = find<Workload>(applied.objects, "Deployment", "sharedlb-allocator").spec.template.spec;
    expect(envOf(allocator.containers[0] as Container, "SHAREDLB_CONFIG")).toBe("/etc/sharedlb/pools.yaml");
    expect(allocator.volumes?.find((v) => v.configMap)?.configMap?.name).toBe("sharedlb-pools");
  });

  it("points the Envoy bootstrap at the gateway Service over ADS, as a fleet the gateway knows", () => {
    const o = applied.objects;
    const bootstrap = parse(
      (find(o, "ConfigMap", "envoy-bootstrap") as unknown as { data: Record<string, string> }).data["envoy.yaml"] ?? "",
    );
    const ads = bootstrap.dynamic_resources.ads_config;
    expect(ads.api_type).toBe("GRPC");
    expect(ads.transport_api_version).toBe("V3");
    expect(bootstrap.dynamic_resources.cds_config).toEqual({ ads: {}, resource_api_version: "V3" });
    expect(bootstrap.dynamic_resources.lds_config).toEqual({ ads: {}, resource_api_version: "V3" });
    expect(ads.grpc_services).toHaveLength(1);
    const clusterName = ads.grpc_services[0].envoy_grpc.cluster_name;
    const xdsCluster = bootstrap.static_resources.clusters.find((c: { name: string }) => c.name === clusterName);
    expect(xdsCluster, `static cluster ${clusterName}`).toBeDefined();
    // ADS is gRPC: the cluster must speak HTTP/2 to the gateway.
    expect(
      xdsCluster.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config
        .http2_protocol_options,
    ).toBeDefined();
    const endpoints = xdsCluster.load_assignment.endpoints.flatMap((e: { lb_endpoints: unknown[] }) => e.lb_endpoints);
    expect(endpoints).toHaveLength(1);
    const addr = endpoints[0].endpoint.address.socket_address;

    const svc = find(o, "Service", "xds-gateway") as unknown as K8sObject & {
      spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string }[] };
    };
    expect([
      `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`,
      `${svc.metadata.name}.${svc.metadata.namespace}.svc`,
    ]).toContain(addr.address);
    const grpcPort = svc.spec.ports.find((p) => p.name === "grpc");
    expect(grpcPort?.port).toBe(18000);
    expect(addr.port_value).toBe(grpcPort?.port);
    // The Service reaches the gateway pods on the port the gateway actually binds.
    const gw = find<Workload>(o, "Deployment", "sharedlb-xds-gateway");
    expect(matches(svc.spec.selector, gw.spec.template.metadata.labels)).toBe(true);
    const gwContainer = gw.spec.template.spec.containers[0] as Container;
    const target = gwContainer.ports?.find((p) => p.name === grpcPort?.targetPort);
    expect(target?.containerPort).toBe(18000);
    expect(envOf(gwContainer, "GRPC_ADDR")).toBe(`0.0.0.0:${target?.containerPort}`);

    const fleetsText = (find(o, "ConfigMap", "sharedlb-fleets") as unknown as { data: Record<string, string> }).data["fleets.yaml"];
    const fleetNames = resolveFleets(validateConfig("fleets.yaml", parse(fleetsText ?? ""), FleetFileSchema)).map((f) => f.name);
    expect(fleetNames).toContain(bootstrap.node.cluster);

    // The DaemonSet runs that bootstrap, on the host network, resolving cluster DNS.
    const ds = find<Workload>(o, "DaemonSet", "envoy-edge").spec.template.spec;
    expect(ds.hostNetwork).toBe(true);
    expect(ds.dnsPolicy).toBe("ClusterFirstWithHostNet");
    const envoy = ds.containers[0] as Container;
    const configPath = envoy.args?.[(envoy.args?.indexOf("--config-path") ?? -2) + 1];
    const mount = envoy.volumeMounts?.find((m) => configPath?.startsWith(`${m.mountPath}/`));
    expect(ds.volumes?.find((v) => v.name === mount?.name)?.configMap?.name).toBe("envoy-bootstrap");
    expect(configPath).toBe(`${mount?.mountPath}/envoy.yaml`);
  });

  it("runs ADS over mutual TLS: Envoy presents its fleet's certificate from a Secret, the gateway serves and checks with another", () => {
    const o = applied.objects;
    const bootstrapMap = (find(o, "ConfigMap", "envoy-bootstrap") as unknown as { data: Record<string, string> }).data;
    const bootstrap = parse(bootstrapMap["envoy.yaml"] ?? "");
    const xds = bootstrap.static_resources.clusters.find((c: { name: string }) => c.name === "sharedlb_xds");
    const tls = xds.transport_socket.typed_config;
    expect(tls["@type"]).toBe("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext");
    const ctx = tls.common_tls_context;
    expect(ctx.alpn_protocols).toEqual(["h2"]);

    // Where Envoy's files come from: SDS files in the bootstrap ConfigMap, naming files of a Secret mount.
    const envoyPod = find<Workload>(o, "DaemonSet", "envoy-edge").spec.template.spec;
    const envoy = envoyPod.containers[0] as Container;
    const secretOf = (pod: PodSpec, c: Container, file: string) => {
      const m = c.volumeMounts?.find((v) => file.startsWith(`${v.mountPath}/`));
      return pod.volumes?.find((v) => v.name === m?.name)?.secret?.secretName;
    };
    const sds = (name: string, configPath: string) => {
      const file = configPath.replace(/^\/etc\/envoy\//, "");
      const doc = parse(bootstrapMap[file] ?? "");
      const secret = doc?.resources?.find((r: { name: string }) => r.name === name);
      expect(secret, `SDS secret ${name} in ${configPath}`).toBeDefined();
      return secret;
    };
    const clientRef = ctx.tls_certificate_sds_secret_configs[0];
    const client = sds(clientRef.name, clientRef.sds_config.path_config_source.path).tls_certificate;
    const caRef = ctx.combined_validation_context.validation_context_sds_secret_config;
    const ca = sds(caRef.name, caRef.sds_config.path_config_source.path).validation_context;
    for (const f of [client.certificate_chain.filename, client.private_key.filename, ca.trusted_ca.filename]) {
      expect(secretOf(envoyPod, envoy, f), f).toBe("envoy-edge-tls");
    }

    // The gateway: its three ADS TLS files come from one Secret; nothing serves plaintext.
    const gwPod = find<Workload>(o, "Deployment", "sharedlb-xds-gateway").spec.template.spec;
    const gw = gwPod.containers[0] as Container;
    for (const name of ["SHAREDLB_ADS_TLS_CERT", "SHAREDLB_ADS_TLS_KEY", "SHAREDLB_ADS_CLIENT_CA"]) {
      expect(secretOf(gwPod, gw, envOf(gw, name) ?? ""), name).toBe("xds-gateway-tls");
    }
    expect(gw.env?.some((e) => e.name === "SHAREDLB_ADS_INSECURE")).toBe(false);

    // cert-manager issues both Secrets from one fleet CA, with the names the two sides check.
    const cm = renderKustomization(join(LB_DIR, "cert-manager"), () => true);
    const cert = (secretName: string) => {
      const c = cm.find((x) => x.kind === "Certificate" && (x.spec as { secretName: string }).secretName === secretName);
      expect(c, `a Certificate for Secret ${secretName}`).toBeDefined();
      return c?.spec as { uris?: string[]; dnsNames?: string[]; usages?: string[]; issuerRef: { name: string } };
    };
    const envoyCert = cert("envoy-edge-tls");
    expect(envoyCert.uris).toEqual([`spiffe://sharedlb/fleet/${bootstrap.node.cluster}`]);
    expect(envoyCert.usages).toEqual(["client auth"]);
    const gwCert = cert("xds-gateway-tls");
    expect(gwCert.dnsNames).toContain(tls.sni);
    expect(gwCert.dnsNames).toContain(ctx.combined_validation_context.default_validation_context.match_typed_subject_alt_names[0].matcher.exact);
    expect(gwCert.issuerRef.name).toBe(envoyCert.issuerRef.name);
    // The fleet CA issues nothing else, so no other certificate can pass as an Envoy.
    const fleetIssued = cm.filter((x) => x.kind === "Certificate" && (x.spec as { issuerRef: { name: string } }).issuerRef.name === envoyCert.issuerRef.name);
    expect(fleetIssued.map((c) => c.metadata.name).sort()).toEqual(["envoy-edge-tls", "xds-gateway-tls"]);
    // Every TLS Secret the base mounts has a Certificate.
    for (const secret of ["nats-tls", "redis-tls"]) cert(secret);
    expect(cm.every((x) => x.apiVersion === "cert-manager.io/v1" && ["Issuer", "Certificate"].includes(x.kind))).toBe(true);
  });
});

describe("deploy/k8s/lb/cert-manager against cert-manager's CRDs", () => {
  let api: KubeApiserver;
  const CM_DIR = join(LB_DIR, "cert-manager");

  beforeAll(async () => {
    api = await startKubeApiserver();
    // The pinned release's CRDs (tools/cert-manager), so the apiserver validates Issuers and
    // Certificates against cert-manager's own schema.
    await installCertManagerCrds(api);
    await api.request("/api/v1/namespaces", { method: "POST", body: { metadata: { name: "sharedlb-system" } } });
  }, 10 * 60_000);
  afterAll(async () => {
    await api?.stop();
  });

  it("validates every Issuer and Certificate with server-side dry-run and strict field validation", async () => {
    const applied = await dryRun(api, await renderBase(api, CM_DIR));
    expect(applied.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      "Certificate/envoy-edge-tls",
      "Certificate/nats-tls",
      "Certificate/redis-tls",
      "Certificate/sharedlb-fleet-ca",
      "Certificate/sharedlb-internal-ca",
      "Certificate/xds-gateway-tls",
      "Issuer/sharedlb-fleet-ca",
      "Issuer/sharedlb-internal-ca",
      "Issuer/sharedlb-selfsigned",
    ]);
    expect(applied.objects.every((o) => o.metadata.namespace === "sharedlb-system")).toBe(true);
    expect([...applied.warnings.entries()]).toEqual([]);
  });

  it("would refuse a field cert-manager does not have (the check is not vacuous)", async () => {
    const cert = renderKustomization(CM_DIR, () => true).find((o) => o.kind === "Certificate");
    expect(cert).toBeDefined();
    const typo = { ...cert, metadata: { name: "typo", namespace: "sharedlb-system" }, spec: { ...(cert as unknown as { spec: object }).spec, dnsName: ["x"] } };
    const res = await api.request("/apis/cert-manager.io/v1/namespaces/sharedlb-system/certificates?dryRun=All&fieldValidation=Strict", { method: "POST", body: typo });
    expect(res.status).toBe(400);
    expect((res.body as { message?: string }).message).toMatch(/unknown field "spec.dnsName"/);
  });
});

describe("deploy/k8s/tenant", () => {
  let api: KubeApiserver;
  let applied: Applied;

  beforeAll(async () => {
    api = await startKubeApiserver();
    // Warn on anything short of `restricted`: nothing in a tenant cluster needs more.
    applied = await applyDryRun(api, TENANT_DIR, { "pod-security.kubernetes.io/warn": "restricted" });
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("lists every manifest in the directory, the RBAC files included", () => {
    const k = parse(readFileSync(join(TENANT_DIR, "kustomization.yaml"), "utf8")) as { resources: string[] };
    expect([...k.resources].sort()).toEqual(firstDocKinds(TENANT_DIR));
  });

  it("validates with server-side dry-run and meets PodSecurity restricted", () => {
    const kinds = applied.objects.map((o) => `${o.kind}/${o.metadata.name}`);
    for (const want of [
      "Deployment/sharedlb-watcher",
      "Deployment/sharedlb-status-reporter",
      "Secret/sharedlb-nats",
      "ConfigMap/sharedlb-tenant",
    ]) {
      expect(kinds).toContain(want);
    }
    expect([...applied.warnings.entries()]).toEqual([]);
  });

  it("runs two leader-elected replicas of each, under the RBAC's ServiceAccounts, with the NATS Secret", () => {
    const o = applied.objects;
    for (const name of ["sharedlb-watcher", "sharedlb-status-reporter"]) {
      const w = find<Workload>(o, "Deployment", name);
      expect(w.spec.replicas).toBe(2);
      const pod = w.spec.template.spec as PodSpec & { serviceAccountName: string };
      find(o, "ServiceAccount", pod.serviceAccountName);
      const c = pod.containers[0] as Container & { envFrom: { configMapRef: { name: string } }[] };
      expect(c.env?.find((e) => e.name === "NATS_URL")?.valueFrom).toEqual({ secretKeyRef: { name: "sharedlb-nats", key: "NATS_URL" } });
      expect(c.envFrom[0]?.configMapRef.name).toBe("sharedlb-tenant");
      expect(c.env?.find((e) => e.name === "SHAREDLB_LEASE_NAMESPACE")?.valueFrom).toEqual({
        fieldRef: { fieldPath: "metadata.namespace" },
      });
      find(o, "PodDisruptionBudget", name);
    }
    const cluster = (find(o, "ConfigMap", "sharedlb-tenant") as unknown as { data: Record<string, string> }).data.SHAREDLB_CLUSTER;
    expect(cluster).toMatch(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
    checkWorkloads(o);
  });
});

describe("Dockerfiles and docker-compose.yml", () => {
  const services = readdirSync(join(ROOT, "services")).filter((s) => existsSync(join(ROOT, "services", s, "package.json")));

  it.each(services)("services/%s/Dockerfile: multi-stage on node:24, non-root, runs the package's bin", (svc) => {
    const dir = join(ROOT, "services", svc);
    const text = readFileSync(join(dir, "Dockerfile"), "utf8");
    const froms = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1] ?? "");
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^node:24(-|$)/);
    const final = text.slice(text.lastIndexOf("\nFROM "));
    expect(final).toMatch(/^USER\s+(node|\d*[1-9]\d*)$/m);
    expect(final).toMatch(/COPY --from=build \/out /);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string; bin: Record<string, string> };
    expect(text).toContain(`--filter ${pkg.name} deploy --prod`);
    const bin = Object.values(pkg.bin)[0]?.replace(/^\.\//, "");
    expect(final).toContain(`ENTRYPOINT ["node", "/app/${bin}"]`);
    // Every path copied from the context exists in the repository.
    for (const m of text.matchAll(/^COPY\s+(?!--from)(.+)$/gm)) {
      const parts = (m[1] ?? "")
        .trim()
        .split(/\s+/)
        .filter((p) => !p.startsWith("--"));
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, src)), `${svc}: COPY ${src}`).toBe(true);
    }
  });

  it("docker-compose.yml runs the LB side, Envoy pointed at the gateway", () => {
    const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8")) as {
      services: Record<
        string,
        {
          image?: string;
          build?: { context: string; dockerfile: string };
          environment?: Record<string, string>;
          configs?: { source: string; target: string }[];
          command?: string[];
        }
      >;
      configs: Record<string, { content: string }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(["allocator", "certs", "envoy", "nats", "redis", "xds-gateway"]);
    for (const s of Object.values(compose.services)) {
      if (s.build) expect(existsSync(join(ROOT, s.build.context, s.build.dockerfile))).toBe(true);
      if (s.image) expect(s.image).not.toMatch(/^[^/]*[.:][^/]*\//);
    }
    const gw = compose.services["xds-gateway"];
    const grpcPort = Number(gw?.environment?.GRPC_ADDR?.split(":").pop());
    const envoy = compose.services.envoy;
    const bootstrapConfig = envoy?.configs?.[0];
    const bootstrap = parse(compose.configs[bootstrapConfig?.source ?? ""]?.content ?? "");
    expect(envoy?.command).toContain(bootstrapConfig?.target);
    const addr = bootstrap.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
    expect(addr).toEqual({ address: "xds-gateway", port_value: grpcPort });
    expect(bootstrap.dynamic_resources.ads_config.api_type).toBe("GRPC");
    // ADS over mutual TLS: the Envoy's files and the gateway's come from what `certs` writes.
    const script = compose.configs["gen-certs"]?.content ?? "";
    const written = (path: string | undefined) => {
      const m = /^\/certs\/([\w-]+)\.(crt|key)$/.exec(path ?? "");
      const made = m?.[1]?.endsWith("-ca")
        ? new RegExp(`openssl req -x509 .*-out ${m[1]}\\.crt`).test(script)
        : new RegExp(`^\\s*issue [\\w-]+ ${m?.[1]} `, "m").test(script);
      expect(made, `${path} is written by the certs service`).toBe(true);
    };
    const tls = bootstrap.static_resources.clusters[0].transport_socket.typed_config.common_tls_context;
    written(tls.tls_certificates[0].certificate_chain.filename);
    written(tls.tls_certificates[0].private_key.filename);
    written(tls.validation_context.trusted_ca.filename);
    for (const k of ["SHAREDLB_ADS_TLS_CERT", "SHAREDLB_ADS_TLS_KEY", "SHAREDLB_ADS_CLIENT_CA"]) written(gw?.environment?.[k]);
    // The Envoy certificate names the fleet the bootstrap asks for.
    expect(script).toContain(`issue fleet-ca envoy-edge 101 clientAuth URI:spiffe://sharedlb/fleet/${bootstrap.node.cluster}\n`);
    // NATS and Redis require TLS, Redis a password; the services verify and authenticate.
    const allocator = compose.services.allocator?.environment ?? {};
    expect(allocator.NATS_URL).toMatch(/^tls:\/\//);
    expect(allocator.REDIS_URL).toMatch(/^rediss:\/\//);
    for (const k of ["NATS_CA", "SHAREDLB_REDIS_CA"]) written(allocator[k]);
    written(gw?.environment?.NATS_CA);
    expect(gw?.environment?.NATS_URL).toMatch(/^tls:\/\//);
    expect(compose.services.redis?.command).toEqual(expect.arrayContaining(["--port", "0", "--requirepass"]));
    expect(allocator.SHAREDLB_REDIS_PASSWORD).toMatch(/^\$\{SHAREDLB_REDIS_PASSWORD:\?/);
    // NATS: its TLS and identities are run for real by security/compose-nats.int.test.ts.
    expect(compose.services.nats?.command).toEqual(expect.arrayContaining(["--config"]));
    expect(compose.configs["nats-conf"]?.content).toMatch(/^tls \{$/m);
    for (const s of [allocator, gw?.environment ?? {}]) expect(s.NATS_NKEY).toMatch(/^\/run\/secrets\//);
    const fleets = resolveFleets(validateConfig("fleets", parse(compose.configs.fleets?.content ?? ""), FleetFileSchema));
    expect(fleets.map((f) => f.name)).toContain(bootstrap.node.cluster);
    resolvePolicy(validateConfig("pools", parse(compose.configs.pools?.content ?? ""), PoolFileSchema));
    expect(compose.services.redis?.command).toEqual(expect.arrayContaining(["--appendonly", "yes"]));
  });
});
