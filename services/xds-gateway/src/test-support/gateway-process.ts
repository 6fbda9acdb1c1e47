import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ManagedProcess, startProcess } from "@sharedlb/testing";

export const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));

export interface GatewayProcess {
  readonly proc: ManagedProcess;
  /** host:port of ADS. */
  readonly grpc: string;
  /** host:port of /healthz, /readyz, /metrics. */
  readonly http: string;
  metrics(): Promise<string>;
  stop(): Promise<number | null>;
}

export function writeFleetFile(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "sharedlb-xds-"));
  const path = join(dir, "fleets.yaml");
  writeFileSync(path, yaml);
  return path;
}

/**
 * Starts `node dist/main.js` as deployed and waits for it to serve ADS: in plaintext
 * (--ads-insecure) unless `extraArgs` give the ADS TLS flags.
 */
export async function startGateway(
  natsUrl: string,
  configPath: string,
  replica: string,
  extraArgs: string[] = [],
): Promise<GatewayProcess> {
  const proc = startProcess(process.execPath, [
    MAIN,
    "--config",
    configPath,
    "--nats-url",
    natsUrl,
    "--grpc-addr",
    "127.0.0.1:0",
    "--http-addr",
    "127.0.0.1:0",
    "--replica",
    replica,
    ...(extraArgs.some((a) => a.startsWith("--ads-")) ? [] : ["--ads-insecure"]),
    ...extraArgs,
  ]);
  const grpc = (await proc.waitForOutput(/"grpc":"([^"]+)"/, 60_000))[1] ?? "";
  const http = (await proc.waitForOutput(/"http":"([^"]+)"/, 1_000))[1] ?? "";
  return {
    proc,
    grpc,
    http,
    metrics: async () => (await fetch(`http://${http}/metrics`)).text(),
    stop: () => proc.stop(),
  };
}

/** The value of one sample in Prometheus text, or 0. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([^{ ]+)(\{([^}]*)\})? (.+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return 0;
}
