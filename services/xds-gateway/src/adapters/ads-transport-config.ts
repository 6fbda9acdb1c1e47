import { ConfigError, type Logger } from "@sharedlb/runtime";
import type { GatewayMetrics } from "../metrics.js";
import { type AdsTlsFiles, AdsTlsError, type AdsTransport, INSECURE_TRANSPORT, loadAdsTls, MtlsTransport } from "./ads-credentials.js";

export const ADS_TLS_FLAGS = {
  adsTlsCert: {
    flag: "ads-tls-cert",
    env: "SHAREDLB_ADS_TLS_CERT",
    description: "PEM certificate chain ADS is served with (mutual TLS, with --ads-tls-key and --ads-client-ca)",
  },
  adsTlsKey: {
    flag: "ads-tls-key",
    env: "SHAREDLB_ADS_TLS_KEY",
    description: "PEM private key of --ads-tls-cert",
  },
  adsClientCa: {
    flag: "ads-client-ca",
    env: "SHAREDLB_ADS_CLIENT_CA",
    description: "CA bundle Envoy client certificates must chain to; a stream is served only for a fleet its certificate names (URI SAN spiffe://sharedlb/fleet/<fleet>)",
  },
  adsTlsRefresh: {
    flag: "ads-tls-refresh",
    env: "SHAREDLB_ADS_TLS_REFRESH",
    kind: "duration",
    default: "1m",
    description: "how often the ADS certificate, key and client CA files are re-read (rotation without restart)",
  },
  adsInsecure: {
    flag: "ads-insecure",
    env: "SHAREDLB_ADS_INSECURE",
    kind: "boolean",
    description: "serve ADS in plaintext to any caller, without the three --ads-* TLS files (tests and local runs only)",
  },
} as const;

export interface AdsTlsFlagValues {
  readonly adsTlsCert: string | undefined;
  readonly adsTlsKey: string | undefined;
  readonly adsClientCa: string | undefined;
  readonly adsTlsRefresh: number;
  readonly adsInsecure: boolean;
}

/**
 * Which ADS transport the flags ask for, checked before any I/O: mutual TLS needs all
 * three files, and plaintext must be asked for, so a forgotten flag never serves every
 * fleet's configuration to anyone who reaches the port.
 */
export function resolveAdsTls(flags: AdsTlsFlagValues): AdsTlsFiles | "insecure" {
  const given = { "--ads-tls-cert": flags.adsTlsCert, "--ads-tls-key": flags.adsTlsKey, "--ads-client-ca": flags.adsClientCa };
  const present = Object.entries(given).filter(([, v]) => v !== undefined);
  if (flags.adsInsecure) {
    if (present.length > 0) throw new ConfigError(`--ads-insecure contradicts ${present.map(([k]) => k).join(", ")}: give one or the other`);
    return "insecure";
  }
  if (present.length === 0) {
    throw new ConfigError("ADS needs mutual TLS: --ads-tls-cert, --ads-tls-key and --ads-client-ca (or --ads-insecure for a plaintext test setup)");
  }
  const missing = Object.entries(given).filter(([, v]) => v === undefined);
  if (missing.length > 0) throw new ConfigError(`ADS mutual TLS also needs ${missing.map(([k]) => k).join(" and ")}`);
  const files = { certFile: flags.adsTlsCert ?? "", keyFile: flags.adsTlsKey ?? "", clientCaFile: flags.adsClientCa ?? "" };
  try {
    loadAdsTls(files);
  } catch (err) {
    if (err instanceof AdsTlsError) throw new ConfigError(err.message);
    throw err;
  }
  return files;
}

/** The transport for resolved flags, refreshing its files until the process ends. */
export function adsTransport(resolved: AdsTlsFiles | "insecure", refreshMs: number, metrics: GatewayMetrics, log: Logger): AdsTransport {
  if (resolved === "insecure") {
    log.warn("ADS is served in plaintext to any caller (--ads-insecure): every fleet's configuration is readable by anyone reaching the port");
    return INSECURE_TRANSPORT;
  }
  const transport = new MtlsTransport(resolved, log, { onReload: (outcome) => metrics.tlsReloads.inc({ outcome }) });
  transport.startRefresh(refreshMs);
  log.info({ cert: resolved.certFile, clientCa: resolved.clientCaFile, notAfter: transport.notAfter }, "ADS uses mutual TLS");
  return transport;
}
