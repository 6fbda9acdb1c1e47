import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubernetesObject, V1Service } from "@kubernetes/client-node";
import { apply, GATEWAY_API, type Tenant } from "./harness.js";

// What a tenant writes: classes, Gateways, routes, Ingresses, Services, TLS Secrets.

export const GATEWAY_CLASS = "sharedlb";
export const GATEWAY_CONTROLLER = "sharedlb.io/gateway-controller";
export const INGRESS_CLASS = "sharedlb";

export type Obj = KubernetesObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

export async function createClasses(t: Tenant): Promise<void> {
  await apply(t, {
    apiVersion: "networking.k8s.io/v1",
    kind: "IngressClass",
    metadata: { name: INGRESS_CLASS },
    spec: { controller: "sharedlb.io/ingress-controller" },
  } as Obj);
  await apply(t, {
    apiVersion: GATEWAY_API,
    kind: "GatewayClass",
    metadata: { name: GATEWAY_CLASS },
    spec: { controllerName: GATEWAY_CONTROLLER },
  } as Obj);
}

export interface ListenerSpec {
  name: string;
  protocol: "HTTP" | "HTTPS" | "TLS" | "TCP";
  port: number;
  hostname?: string;
  /** HTTPS: Terminate with these Secrets; TLS: Passthrough. */
  certificateRefs?: { name: string; namespace?: string }[];
  allowedRoutes?: Record<string, unknown>;
}

export function gateway(namespace: string, name: string, listeners: ListenerSpec[], annotations: Record<string, string> = {}): Obj {
  return {
    apiVersion: GATEWAY_API,
    kind: "Gateway",
    metadata: { name, namespace, annotations },
    spec: {
      gatewayClassName: GATEWAY_CLASS,
      listeners: listeners.map((l) => ({
        name: l.name,
        protocol: l.protocol,
        port: l.port,
        ...(l.hostname ? { hostname: l.hostname } : {}),
        ...(l.protocol === "HTTPS"
          ? { tls: { mode: "Terminate", certificateRefs: (l.certificateRefs ?? []).map((r) => ({ kind: "Secret", group: "", ...r })) } }
          : {}),
        ...(l.protocol === "TLS" ? { tls: { mode: "Passthrough" } } : {}),
        ...(l.allowedRoutes ? { allowedRoutes: l.allowedRoutes } : {}),
      })),
    },
  };
}

export interface BackendRef {
  name: string;
  port: number;
  namespace?: string;
  weight?: number;
  kind?: string;
}

export interface HttpRule {
  matches?: Record<string, unknown>[];
  filters?: Record<string, unknown>[];
  backendRefs: BackendRef[];
}

const parentRefs = (parents: (string | { name: string; sectionName?: string; namespace?: string })[]) =>
  parents.map((p) => (typeof p === "string" ? { name: p } : p));

export function httpRoute(
  namespace: string,
  name: string,
  parents: (string | { name: string; sectionName?: string })[],
  hostnames: string[],
  rules: HttpRule[],
): Obj {
  return {
    apiVersion: GATEWAY_API,
    kind: "HTTPRoute",
    metadata: { name, namespace },
    spec: { parentRefs: parentRefs(parents), hostnames, rules },
  };
}

export function grpcRoute(namespace: string, name: string, parents: string[], hostnames: string[], rules: HttpRule[]): Obj {
  return {
    apiVersion: GATEWAY_API,
    kind: "GRPCRoute",
    metadata: { name, namespace },
    spec: { parentRefs: parentRefs(parents), hostnames, rules },
  };
}

export interface IngressRule {
  host: string;
  path?: string;
  pathType?: "Prefix" | "Exact";
  service: string;
  port: number;
}

export function ingress(namespace: string, name: string, rules: IngressRule[], tls: { hosts: string[]; secretName: string }[] = []): Obj {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name, namespace },
    spec: {
      ingressClassName: INGRESS_CLASS,
      ...(tls.length > 0 ? { tls } : {}),
      rules: rules.map((r) => ({
        host: r.host,
        http: {
          paths: [
            { path: r.path ?? "/", pathType: r.pathType ?? "Prefix", backend: { service: { name: r.service, port: { number: r.port } } } },
          ],
        },
      })),
    },
  };
}

export interface ServiceOpts {
  type?: "ClusterIP" | "NodePort";
  port: number;
  nodePort?: number;
  appProtocol?: string;
}

/** A backend Service selecting `app: <name>`. */
export async function createService(t: Tenant, namespace: string, name: string, o: ServiceOpts): Promise<V1Service> {
  return t.core.createNamespacedService({
    namespace,
    body: {
      metadata: { name },
      spec: {
        type: o.type ?? "ClusterIP",
        selector: { app: name },
        ports: [
          {
            name: `p${o.port}`,
            port: o.port,
            protocol: "TCP",
            targetPort: o.port,
            ...(o.nodePort ? { nodePort: o.nodePort } : {}),
            ...(o.appProtocol ? { appProtocol: o.appProtocol } : {}),
          },
        ],
      },
    },
  });
}

export interface IssuedPair {
  cert: string;
  key: string;
}

/**
 * A CA-signed certificate for `names` (EC P-256, openssl), valid now or, with `expired`,
 * valid only in January 2020.
 */
export function issueCertificate(names: string[], opts: { expired?: boolean } = {}): IssuedPair {
  const dir = mkdtempSync(join(tmpdir(), "sharedlb-l7-pki-"));
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "01\n");
  writeFileSync(
    join(dir, "ca.cnf"),
    [
      "[ca]",
      "default_ca = d",
      "[d]",
      "database = index.txt",
      "serial = serial",
      "new_certs_dir = .",
      "default_md = sha256",
      "policy = p",
      "x509_extensions = ext",
      "[p]",
      "commonName = supplied",
      "[ext]",
      "basicConstraints = CA:FALSE",
      "extendedKeyUsage = serverAuth",
      `subjectAltName = ${names.map((n) => `DNS:${n}`).join(",")}`,
    ].join("\n"),
  );
  run([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=tenant-ca",
  ]);
  run([
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    "tls.key",
    "-out",
    "tls.csr",
    "-subj",
    `/CN=${names[0]}`,
  ]);
  const validity = opts.expired ? ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"] : ["-days", "2"];
  run([
    "ca",
    "-batch",
    "-config",
    "ca.cnf",
    "-cert",
    "ca.crt",
    "-keyfile",
    "ca.key",
    "-in",
    "tls.csr",
    "-out",
    "tls.crt",
    "-notext",
    ...validity,
  ]);
  return { cert: readFileSync(join(dir, "tls.crt"), "utf8"), key: readFileSync(join(dir, "tls.key"), "utf8") };
}

export async function createTlsSecret(t: Tenant, namespace: string, name: string, pair: IssuedPair): Promise<void> {
  await t.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name },
      type: "kubernetes.io/tls",
      data: { "tls.crt": Buffer.from(pair.cert).toString("base64"), "tls.key": Buffer.from(pair.key).toString("base64") },
    },
  });
}

/** The base64 lines of a PEM body: what a leak of the key in clear would contain. */
export function pemBodyLines(pem: string): string[] {
  return pem
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length >= 16 && !l.startsWith("-----"));
}
