import type { Registry } from "prom-client";
import type { FlagValues } from "./command-line.js";
import { ConfigError, positiveInt, type RUNTIME_FLAGS, streamMode, streamStorage } from "./config.js";
import { describeError } from "./errors.js";
import { type HealthServer, type ReadinessCheck, startHealthServer } from "./health.js";
import { Lifecycle } from "./lifecycle.js";
import { createRootLogger, type Logger } from "./logging.js";
import { createMetricsRegistry } from "./metrics.js";
import { connectNats, ensureStreams, type NatsHandle, verifyStreams } from "./nats.js";
import type { NatsSecurity } from "./nats-auth.js";

/** What every sharedlb process has once it is up: one of each, in shutdown order. */
export interface ServiceRuntime {
  log: Logger;
  lifecycle: Lifecycle;
  registry: Registry;
  health: HealthServer;
  nats: NatsHandle;
}

export interface ServiceRuntimeOptions {
  /** Short name: `allocator`, `watcher`, … (logs, metrics label). */
  service: string;
  /** NATS connection name, visible in the server's monitoring. */
  connectionName: string;
  /** The values of RUNTIME_FLAGS, as parsed from the command line. */
  flags: FlagValues<typeof RUNTIME_FLAGS>;
  /** Readiness beyond "not shutting down"; closures may refer to what is built later. */
  readiness: ReadinessCheck[];
  /** parseCommandLine's warnings (former flag names, bare numbers): logged once the logger exists. */
  warnings?: readonly string[];
}

/**
 * The common start of every service: the root logger, ordered shutdown on SIGTERM,
 * metrics, `/healthz` `/readyz` `/metrics`, NATS, and the contract's streams. What a
 * service builds on top registers its own drain and close hooks on `lifecycle`.
 */
export async function startServiceRuntime(o: ServiceRuntimeOptions): Promise<ServiceRuntime> {
  // Validated before any I/O, so a bad value exits 2 without touching anything.
  const replicas = positiveInt("stream-replicas", o.flags.streamReplicas);
  const storage = streamStorage(o.flags.streamStorage);
  const mode = streamMode(o.flags.streamMode);
  const log = createRootLogger(o.service, o.flags.logLevel, o.flags.replica);
  for (const w of o.warnings ?? []) log.warn(w);
  const lifecycle = new Lifecycle(log);
  lifecycle.installSignalHandlers();
  // Last line of defence: a stray rejection is logged; it never takes the process down.
  process.on("unhandledRejection", (err) => log.error({ err: describeError(err) }, "unhandled rejection"));
  const registry = createMetricsRegistry(o.service);
  const health = await startHealthServer(o.flags.httpAddr, registry, o.readiness, log);
  lifecycle.onNotReady("health", () => health.setNotReady());
  lifecycle.onClose("health", () => health.close());
  const nats = await connectNats(o.flags.natsUrl, o.connectionName, log.child({ component: "nats" }), natsSecurity(o.flags));
  lifecycle.onClose("nats", () => nats.nc.drain());
  if (mode === "verify") await verifyStreams(nats.jsm, log);
  else await ensureStreams(nats.jsm, { replicas, storage }, log);
  return { log, lifecycle, registry, health, nats };
}

/** The NATS identity and TLS flags, as connectNats takes them. */
export function natsSecurity(f: FlagValues<typeof RUNTIME_FLAGS>): NatsSecurity {
  return {
    user: f.natsUser,
    password: f.natsPassword,
    token: f.natsToken,
    credsFile: f.natsCreds,
    nkeyFile: f.natsNkey,
    caFile: f.natsCa,
    certFile: f.natsCert,
    keyFile: f.natsKey,
    inboxPrefix: f.natsInboxPrefix,
  };
}

/**
 * Runs a process's main: a ConfigError exits 2 with its message alone (it names the flag,
 * file or field), anything else exits 1 with the program name, never a stack trace.
 */
export function runMain(program: string, main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`${program}: ${describeError(err)}\n`);
    process.exit(1);
  });
}
