import { pino, type Logger } from "pino";

export type { Logger } from "pino";

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

/** The one root logger of a process; everything else is a child of it. */
export function createRootLogger(service: string, level: string, replica?: string): Logger {
  return pino({
    name: `sharedlb-${service}`,
    level: LEVELS.includes(level) ? level : "info",
    base: { service, replica: replica ?? `${process.pid}` },
    // Credentials must never reach logs, whatever a caller passes in.
    redact: {
      paths: ["password", "*.password", "token", "*.token", "authorization", "*.authorization", "credentials", "*.credentials"],
      censor: "[redacted]",
    },
  });
}

/** A URL safe to log: user info removed. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, "//[redacted]@");
}
