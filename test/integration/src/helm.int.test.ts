import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { findBuildScript, installCertManagerCrds, type KubeApiserver, runCacheScript, startKubeApiserver } from "@sharedlb/testing/kube";
import { dryRun, type K8sObject, parseManifests, renderBase } from "./k8s-manifests.js";

// The Helm charts (deploy/helm) against the kustomize bases (deploy/k8s): with their default
// values the charts render the same objects, so the two install paths cannot drift apart.
// The differences allowed are the ones docs/helm.md lists, and nothing else.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const NAMESPACE = "sharedlb-system";
const run = promisify(execFile);

/** Labels Helm charts put on every object's metadata (docs/helm.md); the bases have none of them. */
const HELM_LABELS = ["helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance"];

let helmBin: Promise<string> | undefined;
/** Helm as tools/helm/build.sh pins and builds it (cached), or `$SHAREDLB_HELM`. */
function helm(): Promise<string> {
  const explicit = process.env.SHAREDLB_HELM;
  if (explicit) return Promise.resolve(explicit);
  helmBin ??= runCacheScript(findBuildScript(undefined, join("tools", "helm", "build.sh")), 30 * 60_000);
  return helmBin;
}

interface HelmResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

async function runHelm(args: string[]): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await run(await helm(), args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, stdout, stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, stdout: e.stdout ?? "", stderr: e.stderr ?? String(err) };
  }
}

/** `helm template` of a chart in deploy/helm; `set` entries are passed as --set. */
async function template(chart: string, set: string[] = [], namespace = NAMESPACE): Promise<K8sObject[]> {
  const args = ["template", "sharedlb", join("deploy/helm", chart), "--namespace", namespace, ...set.flatMap((s) => ["--set", s])];
  const res = await runHelm(args);
  expect(res.ok, `helm ${args.join(" ")}: ${res.stderr}`).toBe(true);
  return parseManifests(res.stdout, `helm template ${chart}`);
}

/** Config text without comment or blank lines: what the process reading it sees. */
const configLines = (text: string) =>
  text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));

/**
 * An object as compared: Helm's own labels and `checksum/*` pod annotations dropped, and
 * ConfigMap data read as its consumer reads it (YAML files parsed, other text without
 * comments), because a chart renders pools.yaml from values in its own layout.
 */
function comparable(o: K8sObject): unknown {
  const c = structuredClone(o) as K8sObject & {
    data?: Record<string, string>;
    spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
  };
  const labels = c.metadata.labels;
  if (labels) {
    for (const l of HELM_LABELS) delete labels[l];
  }
  const annotations = c.spec?.template?.metadata?.annotations;
  if (annotations) for (const k of Object.keys(annotations)) if (k.startsWith("checksum/")) delete annotations[k];
  if (c.kind === "ConfigMap" && c.data) {
    const data: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(c.data)) data[k] = /\.ya?ml$/.test(k) ? parse(v) : configLines(v);
    (c as { data: unknown }).data = data;
  }
  return c;
}

const keyOf = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
const byKey = (objects: K8sObject[]) => new Map(objects.map((o) => [keyOf(o), comparable(o)]));

/** Every object of `got` equals the one of `want` with its key, and both hold the same keys. */
function expectSameObjects(got: K8sObject[], want: K8sObject[]): void {
  const g = byKey(got);
  const w = byKey(want);
  expect([...g.keys()].sort()).toEqual([...w.keys()].sort());
  for (const [k, o] of w) expect(g.get(k), k).toEqual(o);
}

const find = (objects: K8sObject[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} rendered`);
  return o as K8sObject & { data: Record<string, string>; spec: Record<string, unknown> };
};

const charts = [
  { chart: "sharedlb-lb", base: "deploy/k8s/lb" },
  { chart: "sharedlb-tenant", base: "deploy/k8s/tenant" },
] as const;

describe("deploy/helm", () => {
  let api: KubeApiserver;

  beforeAll(async () => {
    [api] = await Promise.all([startKubeApiserver(), helm()]);
  });
  afterAll(async () => {
    await api?.stop();
  });

  it.each(charts)("helm lint --strict accepts $chart", async ({ chart }) => {
    const res = await runHelm(["lint", "--strict", join("deploy/helm", chart)]);
    expect(res.ok, res.stdout + res.stderr).toBe(true);
    expect(res.stdout).toContain("0 chart(s) failed");
  });

  it.each(charts)("$chart with its defaults renders what $base renders, without the Namespace object", async ({ chart, base }) => {
    const [rendered, want] = await Promise.all([template(chart), renderBase(api, join(ROOT, base))]);
    expectSameObjects(
      rendered,
      want.filter((o) => o.kind !== "Namespace"),
    );
    for (const o of rendered) {
      expect(o.metadata.labels?.["app.kubernetes.io/managed-by"], keyOf(o)).toBe("Helm");
      expect(o.metadata.labels?.["app.kubernetes.io/part-of"], keyOf(o)).toBe("sharedlb");
    }
  });

  it("sharedlb-lb with namespace.create renders the base exactly, and passes a server-side dry run", async () => {
    const [rendered, want] = await Promise.all([template("sharedlb-lb", ["namespace.create=true"]), renderBase(api, join(ROOT, "deploy/k8s/lb"))]);
    expectSameObjects(rendered, want);
    const applied = await dryRun(api, rendered);
    // As for the base: only the hostNetwork Envoy falls short of PodSecurity restricted.
    expect([...applied.warnings.keys()]).toEqual(["DaemonSet/envoy-edge"]);
  });

  it("sharedlb-lb with certManager.enabled renders deploy/k8s/lb/cert-manager, and passes a strict dry run against cert-manager's CRDs", async () => {
    await installCertManagerCrds(api);
    const isCertManager = (o: K8sObject) => o.apiVersion === "cert-manager.io/v1";
    const [plain, rendered, elsewhere, want] = await Promise.all([
      template("sharedlb-lb"),
      template("sharedlb-lb", ["certManager.enabled=true"]),
      // Its own namespace: the names follow it, and no other test's Namespace is in the way.
      template("sharedlb-lb", ["certManager.enabled=true", "namespace.create=true"], "sharedlb-certs"),
      renderBase(api, join(ROOT, "deploy/k8s/lb/cert-manager")),
    ]);
    expect(plain.filter(isCertManager)).toEqual([]);
    expectSameObjects(rendered.filter(isCertManager), want);
    const applied = await dryRun(api, [find(elsewhere, "Namespace", "sharedlb-certs"), ...elsewhere.filter(isCertManager)]);
    expect(applied.objects.filter(isCertManager)).toHaveLength(want.length);
    expect([...applied.warnings.entries()]).toEqual([]);
    expect(JSON.stringify(find(elsewhere, "Certificate", "nats-tls").spec)).toContain("nats.sharedlb-certs.svc");
  });

  it("sharedlb-tenant with namespace.create renders the base exactly, and passes a server-side dry run meeting restricted", async () => {
    const [rendered, want] = await Promise.all([
      template("sharedlb-tenant", ["namespace.create=true"], "sharedlb-tenant-ns"),
      renderBase(api, join(ROOT, "deploy/k8s/tenant")),
    ]);
    // Another release namespace: every reference to it follows (Lease RBAC subjects included).
    const moved = want.map((o) => JSON.parse(JSON.stringify(o).replaceAll(`"${NAMESPACE}"`, '"sharedlb-tenant-ns"')) as K8sObject);
    expectSameObjects(rendered, moved);
    const applied = await dryRun(api, rendered, { "pod-security.kubernetes.io/warn": "restricted" });
    expect([...applied.warnings.entries()]).toEqual([]);
  });

  it("sharedlb-lb: the NATS cluster size drives the routes and the quorum budget; the bootstrap follows the namespace", async () => {
    const o = await template("sharedlb-lb", ["nats.replicas=5", "envoy.fleet=west", "xdsGateway.fleets.fleets[0].name=west"], "lb");
    const conf = find(o, "ConfigMap", "nats-config").data["nats.conf"] ?? "";
    expect(conf.match(/nats:\/\/nats-\d\.nats-headless:6222/g)).toEqual([0, 1, 2, 3, 4].map((i) => `nats://nats-${i}.nats-headless:6222`));
    expect(find(o, "PodDisruptionBudget", "nats").spec.minAvailable).toBe(3);
    const bootstrap = parse(find(o, "ConfigMap", "envoy-bootstrap").data["envoy.yaml"] ?? "");
    expect(bootstrap.node.cluster).toBe("west");
    const addr = bootstrap.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
    expect(addr).toEqual({ address: "xds-gateway.lb.svc.cluster.local", port_value: 18000 });
    find(o, "DaemonSet", "envoy-west");
    // A single NATS server gets no budget that would block every drain.
    const single = await template("sharedlb-lb", ["nats.replicas=1", "streamReplicas=1"]);
    expect(single.some((x) => x.kind === "PodDisruptionBudget" && x.metadata.name === "nats")).toBe(false);
  });

  it("refuses values that would deploy a broken system, naming the value", async () => {
    const cases: [string, string[], string][] = [
      ["sharedlb-lb", ["nats.replicas=1"], "streamReplicas (3) exceeds nats.replicas (1)"],
      ["sharedlb-lb", ["envoy.fleet=nowhere"], 'envoy.fleet "nowhere" is not a fleet of xdsGateway.fleets (edge)'],
      ["sharedlb-tenant", ["cluster=Tenant_A"], 'cluster "Tenant_A" is not a DNS label'],
    ];
    for (const [chart, set, message] of cases) {
      const res = await runHelm(["template", "x", join("deploy/helm", chart), ...set.flatMap((s) => ["--set", s])]);
      expect(res.ok, `${chart} ${set.join(" ")}`).toBe(false);
      expect(res.stderr).toContain(message);
    }
  });

  it("sharedlb-tenant: an existing NATS Secret replaces the placeholder one, and the cluster id sets the inbox prefix", async () => {
    const o = await template("sharedlb-tenant", ["nats.existingSecret=from-tenant-add", "cluster=blue"]);
    expect(o.some((x) => x.kind === "Secret")).toBe(false);
    const cm = find(o, "ConfigMap", "sharedlb-tenant").data;
    expect([cm.SHAREDLB_CLUSTER, cm.NATS_INBOX_PREFIX]).toEqual(["blue", "_INBOX_blue"]);
    for (const name of ["sharedlb-watcher", "sharedlb-status-reporter"]) {
      const text = JSON.stringify(find(o, "Deployment", name));
      expect(text).toContain('"secretName":"from-tenant-add"');
      expect(text).toContain('"secretKeyRef":{"name":"from-tenant-add","key":"NATS_URL"}');
      expect(text).not.toContain("sharedlb-nats");
    }
  });
});
