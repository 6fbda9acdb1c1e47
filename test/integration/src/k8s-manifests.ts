import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import type { KubeApiserver } from "@sharedlb/testing/kube";

/**
 * Rendering and server-side dry-run of the deployment manifests, shared by the kustomize
 * bases' test (manifests.int.test.ts) and the Helm charts' test (helm.int.test.ts).
 */

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Every object of a multi-document YAML text; `source` names it in errors. */
export function parseManifests(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj) out.push(obj);
  }
  return out;
}

/**
 * The subset of kustomize these bases use: `resources` (files, or directories with their
 * own kustomization.yaml) and `namespace`. Anything else is refused, so a base can never
 * rely on a feature this renderer would silently skip.
 */
export function renderKustomization(dir: string, isNamespaced: (o: K8sObject) => boolean): K8sObject[] {
  const k = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as { namespace?: string; resources?: string[] } & Record<
    string,
    unknown
  >;
  const unsupported = Object.keys(k).filter((key) => !["apiVersion", "kind", "namespace", "resources"].includes(key));
  if (unsupported.length > 0)
    throw new Error(`${dir}/kustomization.yaml uses ${unsupported.join(", ")}, which the test renderer does not implement`);
  const out: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const path = join(dir, r);
    if (statSync(path).isDirectory()) {
      out.push(...renderKustomization(path, isNamespaced));
      continue;
    }
    out.push(...parseManifests(readFileSync(path, "utf8"), path));
  }
  if (k.namespace) for (const o of out) if (isNamespaced(o)) o.metadata.namespace = k.namespace;
  return out;
}

export interface ApiResource {
  plural: string;
  namespaced: boolean;
}

/** Resource names and scopes from the apiserver's discovery, per apiVersion/kind. */
export async function discover(api: KubeApiserver, apiVersions: Iterable<string>): Promise<Map<string, ApiResource>> {
  const out = new Map<string, ApiResource>();
  for (const gv of new Set(apiVersions)) {
    const res = await api.request(gv === "v1" ? "/api/v1" : `/apis/${gv}`);
    expect(res.status, `discovery of ${gv}`).toBe(200);
    const list = (res.body as { resources: { name: string; kind: string; namespaced: boolean }[] }).resources;
    for (const r of list) if (!r.name.includes("/")) out.set(`${gv}/${r.kind}`, { plural: r.name, namespaced: r.namespaced });
  }
  return out;
}

function collectionPath(o: K8sObject, r: ApiResource): string {
  const base = o.apiVersion === "v1" ? "/api/v1" : `/apis/${o.apiVersion}`;
  return r.namespaced ? `${base}/namespaces/${o.metadata.namespace ?? "default"}/${r.plural}` : `${base}/${r.plural}`;
}

/** A kustomize base rendered as `kubectl apply -k` would: namespace set on namespaced kinds only. */
export async function renderBase(api: KubeApiserver, dir: string): Promise<K8sObject[]> {
  const scopes = await discover(
    api,
    renderKustomization(dir, () => true).map((o) => o.apiVersion),
  );
  return renderKustomization(dir, (o) => scopes.get(`${o.apiVersion}/${o.kind}`)?.namespaced === true);
}

export interface Applied {
  objects: K8sObject[];
  /** Warning headers per `Kind/name`, e.g. PodSecurity violations. */
  warnings: Map<string, string>;
}

/**
 * Submits rendered objects: each Namespace for real (so namespaced objects have a home),
 * every other object with server-side dry-run, which runs defaulting, validation and admission (PodSecurity included) without
 * persisting anything.
 */
export async function dryRun(
  api: KubeApiserver,
  objects: K8sObject[],
  namespaceLabels: Record<string, string> = {},
): Promise<Applied> {
  const scopes = await discover(
    api,
    objects.map((o) => o.apiVersion),
  );
  const warnings = new Map<string, string>();
  const namespaces = objects.filter((o) => o.kind === "Namespace");
  for (const ns of namespaces) {
    const body = { ...ns, metadata: { ...ns.metadata, labels: { ...ns.metadata.labels, ...namespaceLabels } } };
    const res = await api.request("/api/v1/namespaces", { method: "POST", body });
    expect(res.status, `create Namespace ${ns.metadata.name}: ${res.text}`).toBe(201);
  }
  for (const o of objects.filter((x) => x.kind !== "Namespace")) {
    const r = scopes.get(`${o.apiVersion}/${o.kind}`);
    expect(r, `${o.apiVersion} ${o.kind} is served by the apiserver`).toBeDefined();
    if (!r) continue;
    const res = await api.request(`${collectionPath(o, r)}?dryRun=All&fieldValidation=Strict`, { method: "POST", body: o });
    expect([200, 201], `dry-run ${o.kind}/${o.metadata.name}: ${res.text}`).toContain(res.status);
    const echoed = res.body as K8sObject;
    expect(echoed.metadata.name).toBe(o.metadata.name);
    const w = res.headers.warning;
    if (w) warnings.set(`${o.kind}/${o.metadata.name}`, Array.isArray(w) ? w.join("; ") : w);
  }
  return { objects, warnings };
}
