import { type DestinationStream, type LoggerOptions, pino, type Logger } from "pino";

export type { Logger } from "pino";

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/** Field names that hold secrets wherever they appear (top level or one level down). */
const SECRET_FIELDS = [
  "password",
  "pass",
  "token",
  "auth_token",
  "authorization",
  "credentials",
  "creds",
  "seed",
  "nkey_seed",
  "privateKey",
  "private_key",
  "secret",
  "sig",
];

/** The one root logger of a process; everything else is a child of it. */
export function createRootLogger(service: string, level: string, replica?: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name: `sharedlb-${service}`,
    level: LEVELS.includes(level) ? level : "info",
    base: { service, replica: replica ?? `${process.pid}` },
    // Credentials must never reach logs, whatever a caller passes in.
    redact: { paths: SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]), censor: "[redacted]" },
    hooks: {
      // Messages and error texts quote URLs (a client library's "cannot connect to redis://u:p@…"):
      // user info is cut out of every string argument, so no caller has to remember.
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === "string" ? redactSecrets(a) : a)) as Parameters<typeof method>);
      },
    },
    formatters: {
      log: (obj) => scrubStrings(obj),
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A URL safe to log: user info removed. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/\s]*@/g, "//[redacted]@");
}

/** URL user info and PEM private keys (L7 certificates) cut out of free text. */
export function redactSecrets(text: string): string {
  return redactUrl(text).replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, "[redacted private key]");
}

/** Top-level and one-level-down string values scrubbed (err.message, nats: [urls], …); deeper data is left as is. */
function scrubStrings(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = scrubValue(v, 1);
  return out;
}

function scrubValue(v: unknown, depth: number): unknown {
  if (typeof v === "string") return redactSecrets(v);
  if (depth <= 0 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => scrubValue(x, depth - 1));
  if (v instanceof Error) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = scrubValue(x, depth - 1);
  return out;
}
