import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { parse } from "yaml";

/** The parts of docker-compose.yml the security tests run for real. */
export interface Compose {
  services: Record<string, { environment?: Record<string, string>; command?: string[]; secrets?: string[] }>;
  configs: Record<string, { content?: string; file?: string }>;
  secrets: Record<string, { file: string }>;
}

export const REPO_ROOT = resolve(import.meta.dirname, "../../../..");
export const compose = parse(readFileSync(join(REPO_ROOT, "docker-compose.yml"), "utf8")) as Compose;

/** A compose config's text: inline `content`, or the `file` it names (relative to the compose file). */
export function composeConfig(name: string): string {
  const c = compose.configs[name];
  if (c?.content !== undefined) return c.content;
  if (c?.file !== undefined) return readFileSync(isAbsolute(c.file) ? c.file : join(REPO_ROOT, c.file), "utf8");
  throw new Error(`docker-compose.yml has no config ${name}`);
}

/**
 * Where a path inside a compose container is on this machine: the `certs` volume is `certsDir`,
 * `/run/secrets/<name>` is the file compose mounts there.
 */
export function onHost(certsDir: string, path: string | undefined): string {
  const p = path ?? "";
  const secret = /^\/run\/secrets\/([\w-]+)$/.exec(p)?.[1];
  if (secret) {
    const file = compose.secrets[secret]?.file;
    if (!file) throw new Error(`docker-compose.yml has no secret ${secret}`);
    return join(REPO_ROOT, file);
  }
  return p.replace(/^\/certs\//, `${certsDir}/`);
}

/**
 * Runs compose's one-shot `certs` script for real into `dir` (only its package install and
 * chown are skipped: no root here).
 */
export function runComposeCerts(dir: string): void {
  const script = composeConfig("gen-certs")
    .replaceAll("$$", "$")
    .replace("cd /certs", `cd ${dir}`)
    .replace(/^\s*apk add .*$/m, ":")
    .replace(/chown "\$3" "\$2\.key" && /, "");
  execFileSync("sh", ["-c", script], { stdio: "pipe" });
}
