import { readdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { findBuildScript, runCacheScript } from "./binaries.js";
import type { KubeApiserver } from "./kube-apiserver.js";
import { waitFor } from "./process.js";

const CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

export interface CrdsOptions {
  /** A directory of CRD YAML instead of the pinned release's. */
  dir?: string;
  /** Upper bound for fetching them when missing, and for them to become Established. Default 5 min. */
  timeoutMs?: number;
}

export interface Crd {
  kind: "CustomResourceDefinition";
  metadata: { name: string };
  spec: { group: string };
}

/** The CRDs of one pinned release, fetched by a tools/ script on first use (a directory in `dirEnv` instead). */
export interface PinnedCrds {
  /** Parsed; only the CustomResourceDefinitions of the directory (other kinds are left out). */
  crds(opts?: CrdsOptions): Promise<Crd[]>;
  /**
   * Creates them in a test kube-apiserver and resolves once every one is Established and its
   * group is served, so objects can be created at once. Returns the CRD names.
   */
  install(kube: KubeApiserver, opts?: CrdsOptions): Promise<string[]>;
}

export function pinnedCrds(fetchScript: string, dirEnv: string): PinnedCrds {
  let fetched: Promise<string> | undefined;
  const crdDir = (opts: CrdsOptions): Promise<string> => {
    const explicit = opts.dir ?? process.env[dirEnv];
    if (explicit) return Promise.resolve(resolve(explicit));
    if (!fetched) {
      const script = findBuildScript(dirname(fileURLToPath(import.meta.url)), fetchScript);
      fetched = runCacheScript(script, opts.timeoutMs ?? 5 * 60_000);
      // A failed fetch (proxy unreachable) may work on a later call.
      fetched.catch(() => {
        fetched = undefined;
      });
    }
    return fetched;
  };
  const crds = async (opts: CrdsOptions = {}): Promise<Crd[]> => {
    const dir = await crdDir(opts);
    const out: Crd[] = [];
    for (const file of (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort()) {
      for (const doc of parseAllDocuments(await readFile(join(dir, file), "utf8"))) {
        if (doc.errors.length > 0) throw new Error(`${join(dir, file)}: ${doc.errors[0]?.message}`);
        const obj: unknown = doc.toJS();
        if (isCrd(obj)) out.push(obj);
      }
    }
    if (out.length === 0) throw new Error(`no CustomResourceDefinitions in ${dir}`);
    return out;
  };
  const install = async (kube: KubeApiserver, opts: CrdsOptions = {}): Promise<string[]> => {
    const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
    const all = await crds(opts);
    for (const crd of all) {
      const res = await kube.request(CRD_PATH, { method: "POST", body: crd });
      if (res.status !== 201 && res.status !== 409) {
        throw new Error(`creating CRD ${crd.metadata.name}: HTTP ${res.status} ${res.text.slice(0, 500)}`);
      }
    }
    for (const crd of all) {
      await waitFor(
        async () => {
          const res = await kube.request(`${CRD_PATH}/${crd.metadata.name}`);
          return established(res.body) ? true : undefined;
        },
        { timeoutMs, intervalMs: 50, what: `CRD ${crd.metadata.name} Established` },
      );
    }
    for (const group of new Set(all.map((c) => c.spec.group))) {
      await waitFor(async () => ((await kube.request(`/apis/${group}`)).status === 200 ? true : undefined), {
        timeoutMs,
        intervalMs: 50,
        what: `API group ${group} served`,
      });
    }
    return all.map((c) => c.metadata.name);
  };
  return { crds, install };
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
