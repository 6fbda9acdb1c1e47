import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { NatsIdentities } from "../domain/nats-authorization.js";
import { AUTH_CONFIGMAP_FILE, IDENTITIES_FILE, parseIdentities, renderAuthConfigMap, renderIdentities } from "../domain/tenant-registry.js";
import { CliError } from "../domain/errors.js";
import { renderNatsAuthorization } from "../domain/nats-authorization.js";

/** Written whole, then renamed: a reader (kubectl, a reloading nats-server) never sees half a file. */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

export function loadIdentities(lbDir: string): NatsIdentities {
  const path = join(lbDir, IDENTITIES_FILE);
  if (!existsSync(path)) throw new CliError("InvalidIdentities", `${path} not found (--lb-dir names the LB deploy directory)`);
  return parseIdentities(path, readFileSync(path, "utf8"));
}

/** Where `sharedlb tenant` writes: the registry's directory, the ConfigMap (unless a plain file is all the server reads), the bare block. */
export interface IdentityTargets {
  lbDir: string;
  configMap: boolean;
  authConf: string | undefined;
}

/** The identities file, the ConfigMap rendered from it, and optionally the bare authorization block for a server reading files. */
export function saveIdentities(to: IdentityTargets, ids: NatsIdentities): string[] {
  const { lbDir, authConf } = to;
  const written = [join(lbDir, IDENTITIES_FILE)];
  writeFileAtomic(join(lbDir, IDENTITIES_FILE), renderIdentities(ids));
  if (to.configMap) {
    writeFileAtomic(join(lbDir, AUTH_CONFIGMAP_FILE), renderAuthConfigMap(ids));
    written.push(join(lbDir, AUTH_CONFIGMAP_FILE));
  }
  if (authConf) {
    writeFileAtomic(authConf, renderNatsAuthorization(ids));
    written.push(authConf);
  }
  return written;
}

/** Asks a local nats-server to reload its configuration (what `nats-server --signal reload` does). */
export function signalReload(pidText: string): void {
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid < 1) throw new CliError("UsageError", `--reload-pid "${pidText}" is not a process id`);
  try {
    process.kill(pid, "SIGHUP");
  } catch (err) {
    throw new CliError("UsageError", `cannot signal nats-server ${pid}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

/** A CA bundle for the tenant Secret: must be PEM certificates. */
export function readCa(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError("UsageError", `--ca ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) throw new CliError("UsageError", `--ca ${path}: not a PEM certificate`);
  return text;
}
