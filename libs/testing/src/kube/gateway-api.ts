import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { findBuildScript, runCacheScript } from "./binaries.js";
import type { KubeApiserver } from "./kube-apiserver.js";
import { waitFor } from "./process.js";

const FETCH_SCRIPT = join("tools", "gateway-api", "fetch.sh");
const CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

export interface GatewayApiCrdsOptions {
  /** A directory of CRD YAML. Default: `$SHAREDLB_GATEWAY_API_CRDS_DIR`, else what tools/gateway-api/fetch.sh prints. */
  dir?: string;
  /** Upper bound for fetching them when missing, and for them to become Established. Default 5 min. */
  timeoutMs?: number;
}

interface Crd {
  kind: "CustomResourceDefinition";
  metadata: { name: string };
  spec: { group: string };
}

let fetched: Promise<string> | undefined;

/** The Gateway API standard-channel CRDs of the pinned release, parsed (only the CRDs). */
export async function gatewayApiCrds(opts: GatewayApiCrdsOptions = {}): Promise<Crd[]> {
  const dir = await crdDir(opts);
  const crds: Crd[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`${join(dir, file)}: ${doc.errors[0]?.message}`);
      const obj: unknown = doc.toJS();
      if (isCrd(obj)) crds.push(obj);
    }
  }
  if (crds.length === 0) throw new Error(`no CustomResourceDefinitions in ${dir}`);
  return crds;
}

/**
 * Creates the Gateway API CRDs in a test kube-apiserver and resolves once every one is
 * Established and its group is served, so objects can be created at once. Returns the
 * CRD names.
 */
export async function installGatewayApiCrds(kube: KubeApiserver, opts: GatewayApiCrdsOptions = {}): Promise<string[]> {
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
  const crds = await gatewayApiCrds(opts);
  for (const crd of crds) {
    const res = await kube.request(CRD_PATH, { method: "POST", body: crd });
    if (res.status !== 201 && res.status !== 409) {
      throw new Error(`creating CRD ${crd.metadata.name}: HTTP ${res.status} ${res.text.slice(0, 500)}`);
    }
  }
  for (const crd of crds) {
    await waitFor(
      async () => {
        const res = await kube.request(`${CRD_PATH}/${crd.metadata.name}`);
        return established(res.body) ? true : undefined;
      },
      { timeoutMs, intervalMs: 50, what: `CRD ${crd.metadata.name} Established` },
    );
  }
  for (const group of new Set(crds.map((c) => c.spec.group))) {
    await waitFor(async () => ((await kube.request(`/apis/${group}`)).status === 200 ? true : undefined), {
      timeoutMs,
      intervalMs: 50,
      what: `API group ${group} served`,
    });
  }
  return crds.map((c) => c.metadata.name);
}

function crdDir(opts: GatewayApiCrdsOptions): Promise<string> {
  const explicit = opts.dir ?? process.env.SHAREDLB_GATEWAY_API_CRDS_DIR;
  if (explicit) return Promise.resolve(resolve(explicit));
  if (!fetched) {
    const script = findBuildScript(dirname(fileURLToPath(import.meta.url)), FETCH_SCRIPT);
    fetched = runCacheScript(script, opts.timeoutMs ?? 5 * 60_000);
    // A failed fetch (proxy unreachable) may work on a later call.
    fetched.catch(() => {
      fetched = undefined;
    });
  }
  return fetched;
}

function isCrd(v: unknown): v is Crd {
  return (
    field(v, "kind") === "CustomResourceDefinition" &&
    typeof field(field(v, "metadata"), "name") === "string" &&
    typeof field(field(v, "spec"), "group") === "string"
  );
}

function established(body: unknown): boolean {
  const conditions = field(field(body, "status"), "conditions");
  return Array.isArray(conditions) && conditions.some((c) => field(c, "type") === "Established" && field(c, "status") === "True");
}

function field(v: unknown, key: string): unknown {
  return typeof v === "object" && v !== null && key in v ? (v as Record<string, unknown>)[key] : undefined;
}
