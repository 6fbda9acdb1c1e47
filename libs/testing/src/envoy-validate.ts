import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A resource as it travels in a DiscoveryResponse: a google.protobuf.Any, either
 * already encoded or as its two fields (pbjs' Any keeps the proto name `type_url`).
 */
export type EnvoyAny = Uint8Array | { readonly type_url: string; readonly value: Uint8Array };

/** One broken rule of Envoy's protoc-gen-validate annotations, in one resource. */
export interface EnvoyViolation {
  /** Position of the resource in the input. */
  readonly index: number;
  readonly typeUrl: string;
  /** The resource's `name` (`cluster_name` for a ClusterLoadAssignment). */
  readonly name: string;
  /** Proto field path, nested Anys shown as `typed_config(type.Name)`. */
  readonly field: string;
  readonly message: string;
}

export class EnvoyValidatorError extends Error {
  constructor(
    readonly reason: "BuildFailed" | "RunFailed" | "BadOutput",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "EnvoyValidatorError";
  }
}

const BUILD_SCRIPT = join("tools", "envoy-validate", "build.sh");
const BUILD_TIMEOUT_MS = 20 * 60_000;
const RUN_TIMEOUT_MS = 120_000;

let binary: Promise<string> | undefined;

/**
 * Checks resources against Envoy's own validation rules (go-control-plane's
 * `ValidateAll()`, nested Anys included) with tools/envoy-validate, and returns every
 * violation; an empty list means Envoy's rules accept all of them. The binary is
 * `$SHAREDLB_ENVOY_VALIDATE` or built (once, cached) by tools/envoy-validate/build.sh.
 */
export async function validateEnvoyResources(anys: readonly EnvoyAny[]): Promise<EnvoyViolation[]> {
  const bin = await envoyValidatorBinary();
  const stdout = await run(bin, frame(anys.map(encodeAny)));
  return parseReport(stdout);
}

/** The validator binary's path, building it when missing (memoised per process). */
export function envoyValidatorBinary(): Promise<string> {
  const explicit = process.env.SHAREDLB_ENVOY_VALIDATE;
  if (explicit) return Promise.resolve(explicit);
  if (!binary) {
    binary = buildValidator();
    binary.catch(() => {
      binary = undefined;
    });
  }
  return binary;
}

function buildValidator(): Promise<string> {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, BUILD_SCRIPT))) {
    const parent = dirname(dir);
    if (parent === dir) {
      return Promise.reject(
        new EnvoyValidatorError("BuildFailed", `cannot find ${BUILD_SCRIPT}; set SHAREDLB_ENVOY_VALIDATE to the binary`),
      );
    }
    dir = parent;
  }
  return spawnCollect("bash", [join(dir, BUILD_SCRIPT)], new Uint8Array(), BUILD_TIMEOUT_MS, "BuildFailed").then((out) => {
    const path = out.trim().split("\n").at(-1)?.trim();
    if (!path) throw new EnvoyValidatorError("BuildFailed", `${BUILD_SCRIPT} printed no binary path`);
    return path;
  });
}

function run(bin: string, input: Uint8Array): Promise<string> {
  return spawnCollect(bin, [], input, RUN_TIMEOUT_MS, "RunFailed");
}

function spawnCollect(
  cmd: string,
  args: string[],
  input: Uint8Array,
  timeoutMs: number,
  reason: "BuildFailed" | "RunFailed",
): Promise<string> {
  return new Promise((resolve, reject) => {
    // stderr is inherited: a cold build shows its progress, a failure its message.
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new EnvoyValidatorError(reason, `${cmd} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new EnvoyValidatorError(reason, `cannot run ${cmd}`, { cause: err }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(chunks).toString("utf8"));
      else reject(new EnvoyValidatorError(reason, `${cmd} failed (exit ${code ?? signal}); see its stderr`));
    });
    child.stdin.on("error", () => {
      // A child that exits early closes its stdin; the close handler reports it.
    });
    child.stdin.end(input);
  });
}

/** The tool's input: each Any preceded by its length (4 bytes, big-endian). */
function frame(records: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const r of records) {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(r.length);
    parts.push(head, r);
  }
  return Buffer.concat(parts);
}

/** google.protobuf.Any: field 1 type_url (string), field 2 value (bytes). */
function encodeAny(any: EnvoyAny): Uint8Array {
  if (any instanceof Uint8Array) return any;
  const url = Buffer.from(any.type_url, "utf8");
  return Buffer.concat([Buffer.from([0x0a]), varint(url.length), url, Buffer.from([0x12]), varint(any.value.length), any.value]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

function parseReport(text: string): EnvoyViolation[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new EnvoyValidatorError("BadOutput", "envoy-validate printed no JSON", { cause: err });
  }
  const resources = field(doc, "resources");
  if (!Array.isArray(resources)) throw new EnvoyValidatorError("BadOutput", "envoy-validate output has no resources list");
  const out: EnvoyViolation[] = [];
  for (const r of resources) {
    const index = field(r, "index");
    const typeUrl = field(r, "typeUrl");
    const name = field(r, "name");
    const violations = field(r, "violations");
    if (typeof index !== "number" || typeof typeUrl !== "string" || typeof name !== "string" || !Array.isArray(violations)) {
      throw new EnvoyValidatorError("BadOutput", `envoy-validate output has a malformed resource: ${JSON.stringify(r)}`);
    }
    for (const v of violations) {
      const path = field(v, "field");
      const message = field(v, "message");
      if (typeof path !== "string" || typeof message !== "string") {
        throw new EnvoyValidatorError("BadOutput", `envoy-validate output has a malformed violation: ${JSON.stringify(v)}`);
      }
      out.push({ index, typeUrl, name, field: path, message });
    }
  }
  return out;
}

function field(obj: unknown, key: string): unknown {
  return typeof obj === "object" && obj !== null ? Reflect.get(obj, key) : undefined;
}
