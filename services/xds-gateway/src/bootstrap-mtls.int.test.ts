// The Envoy bootstraps the repository ships (deploy/k8s/lb, docker-compose.yml), with their
// mutual TLS to the gateway, checked against Envoy's own API: every field must exist in the
// .proto (a misspelt field would make Envoy refuse to start, or silently drop TLS), and the
// encoded Bootstrap and SDS Secrets must pass Envoy's validation rules (tools/envoy-validate).
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { validateEnvoyResources } from "@sharedlb/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const ROOT = resolve(import.meta.dirname, "../../..");
const xdsRequire = createRequire(createRequire(import.meta.url).resolve("@grpc/grpc-js-xds/package.json"));
const DEPS = join(dirname(xdsRequire.resolve("@grpc/grpc-js-xds/package.json")), "deps");
const INCLUDE = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(DEPS, d));

interface RField {
  readonly name: string;
  readonly repeated: boolean;
  readonly map: boolean;
  readonly resolvedType: RType | { readonly values: Record<string, number> } | null;
}
interface RType {
  readonly fullName: string;
  readonly fields: Record<string, RField>;
  fromObject(o: object): object;
  encode(m: object): { finish(): Uint8Array };
}
interface RRoot {
  resolvePath: (origin: string, target: string) => string | null;
  loadSync(files: string[], options: object): RRoot;
  lookupType(name: string): RType;
  resolveAll(): RRoot;
}
// proto-loader registers google/protobuf/descriptor.proto (which validate.proto imports) with its protobufjs.
xdsRequire("@grpc/proto-loader");
const protobuf = createRequire(xdsRequire.resolve("@grpc/proto-loader"))("protobufjs") as { Root: new () => RRoot };

let root: RRoot;
const isType = (t: RField["resolvedType"]): t is RType => t !== null && "fields" in t;

/** A google.protobuf.Any of `type`, from its proto3 JSON (YAML) form, refusing unknown fields. */
function anyOf(typeName: string, json: Record<string, unknown>, path: string): { type_url: string; value: Uint8Array } {
  const type = root.lookupType(typeName);
  return { type_url: `type.googleapis.com/${typeName}`, value: type.encode(type.fromObject(messageOf(type, json, path))).finish() };
}

/** proto3 JSON → what protobufjs' fromObject takes: Anys packed, durations split; unknown fields throw. */
function messageOf(type: RType, json: Record<string, unknown>, path: string): Record<string, unknown> {
  if (type.fullName === ".google.protobuf.Any") {
    const { "@type": url, ...rest } = json;
    if (typeof url !== "string") throw new Error(`${path}: an Any without @type`);
    return anyOf(url.slice(url.lastIndexOf("/") + 1), rest, `${path}(${url})`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key];
    if (!field) throw new Error(`${path}.${key}: no such field in ${type.fullName}`);
    const convert = (v: unknown, p: string): unknown => {
      const t = field.resolvedType;
      if (!isType(t)) return v;
      if (t.fullName === ".google.protobuf.Duration" && typeof v === "string") {
        const m = /^(\d+)(?:\.(\d+))?s$/.exec(v);
        if (!m) throw new Error(`${p}: "${v}" is not a duration`);
        return { seconds: Number(m[1]), nanos: Number((m[2] ?? "").padEnd(9, "0")) };
      }
      if (t.fullName.startsWith(".google.protobuf.") && t.fullName.endsWith("Value") && typeof v !== "object") return { value: v };
      return messageOf(t, v as Record<string, unknown>, p);
    };
    const at = `${path}.${key}`;
    if (field.map) out[key] = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, convert(v, `${at}[${k}]`)]));
    else if (field.repeated) out[key] = (value as unknown[]).map((v, i) => convert(v, `${at}[${i}]`));
    else out[key] = convert(value, at);
  }
  return out;
}

async function violations(anys: { type_url: string; value: Uint8Array }[]): Promise<string[]> {
  return (await validateEnvoyResources(anys)).map((v) => `${v.typeUrl} ${v.name} ${v.field}: ${v.message}`);
}

const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";
const SECRET = "envoy.extensions.transport_sockets.tls.v3.Secret";

beforeAll(() => {
  root = new protobuf.Root();
  root.resolvePath = (_origin, target) => INCLUDE.map((d) => join(d, target)).find((c) => existsSync(c)) ?? target;
  root = root
    .loadSync(
      [
        "envoy/config/bootstrap/v3/bootstrap.proto",
        "envoy/extensions/transport_sockets/tls/v3/tls.proto",
        "envoy/extensions/transport_sockets/tls/v3/secret.proto",
        "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
        "envoy/extensions/resource_monitors/downstream_connections/v3/downstream_connections.proto",
      ],
      { keepCase: true },
    )
    .resolveAll();
}, 120_000);

describe("shipped Envoy bootstraps with mutual TLS to the gateway", () => {
  it("deploy/k8s/lb: the bootstrap and its two SDS files are valid Envoy configuration", async () => {
    const docs = parseAllDocuments(readFileSync(join(ROOT, "deploy/k8s/lb/60-envoy.yaml"), "utf8")).map((d) => d.toJS());
    const data = docs.find((d) => d?.kind === "ConfigMap" && d.metadata.name === "envoy-bootstrap").data as Record<string, string>;
    const bootstrap = parse(data["envoy.yaml"] ?? "");
    const anys = [anyOf(BOOTSTRAP, bootstrap, "envoy.yaml")];
    for (const file of ["sds-client-certificate.yaml", "sds-fleet-ca.yaml"]) {
      const sds = parse(data[file] ?? "") as { resources: Record<string, unknown>[] };
      for (const [i, { "@type": type, ...secret }] of sds.resources.entries()) {
        expect(type).toBe(`type.googleapis.com/${SECRET}`);
        anys.push(anyOf(SECRET, secret, `${file}.resources[${i}]`));
      }
    }
    expect(await violations(anys)).toEqual([]);
  }, 300_000);

  it("docker-compose.yml: the bootstrap is valid Envoy configuration", async () => {
    const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8")) as { configs: Record<string, { content: string }> };
    const bootstrap = parse(compose.configs["envoy-bootstrap"]?.content ?? "");
    expect(await violations([anyOf(BOOTSTRAP, bootstrap, "envoy-bootstrap")])).toEqual([]);
  }, 300_000);

  it("refuses a misspelt field, so the checks above can fail", () => {
    expect(() => anyOf(SECRET, { name: "x", tls_certificate: { certificate_chian: { filename: "/x" } } }, "typo")).toThrow(
      "typo.tls_certificate.certificate_chian: no such field",
    );
  });
});
