import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const LB_NATS = join(resolve(dirname(fileURLToPath(import.meta.url)), "../../../.."), "deploy/k8s/lb/20-nats.yaml");

/** Top-level settings that describe where the shipped server runs, not who may do what: the test harness sets its own. */
const TOPOLOGY = new Set(["server_name", "listen", "http", "pid_file", "jetstream", "cluster", "lame_duck_duration", "lame_duck_grace_period"]);

/**
 * nats.conf exactly as deploy/k8s/lb ships it, minus the topology (listen address, store,
 * cluster routes), which the harness sets for a private single server. Everything about
 * authorization and TLS is kept verbatim, includes and file names too: callers place the
 * included files (nats-auth.conf) beside it, and the certificates (tls.crt, tls.key, ca.crt)
 * in `tlsDir`, as the nats-tls Secret is mounted.
 */
export function shippedNatsConfig(tlsDir: string): string {
  const docs = parseAllDocuments(readFileSync(LB_NATS, "utf8")).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> });
  const cm = docs.find((d) => d?.kind === "ConfigMap" && d.metadata?.name === "nats-config");
  const conf = cm?.data?.["nats.conf"];
  if (!conf) throw new Error(`${LB_NATS}: no ConfigMap nats-config with nats.conf`);
  const out: string[] = [];
  let depth = 0;
  let skipping = false;
  for (const line of conf.split("\n")) {
    const key = /^([a-z_]+)\s*[:{ ]/.exec(line)?.[1];
    if (depth === 0 && key !== undefined) skipping = TOPOLOGY.has(key);
    depth += (line.match(/[{[]/g) ?? []).length - (line.match(/[}\]]/g) ?? []).length;
    if (!skipping) out.push(line);
  }
  // The one substitution: where the certificate Secret is mounted.
  return out.join("\n").replaceAll("/etc/nats-tls/", `${tlsDir}/`);
}
