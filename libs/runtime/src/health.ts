import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { parseHostPort } from "./config.js";
import type { Logger } from "./logging.js";

/** A named readiness condition; the process is ready when all are. */
export interface ReadinessCheck {
  name: string;
  ready(): boolean;
  /** Why it is not ready, for the /readyz body (e.g. how far behind, which message failed). */
  detail?(): string | undefined;
}

export interface HealthServer {
  address: { host: string; port: number };
  setNotReady(): void;
  close(): Promise<void>;
}

/**
 * `/healthz` (the process is alive), `/readyz` (every check passes and the process is not
 * shutting down; the body names failing checks), `/metrics` (Prometheus text).
 */
export async function startHealthServer(
  addr: string,
  registry: Registry,
  checks: ReadinessCheck[],
  log: Logger,
): Promise<HealthServer> {
  const { host, port } = parseHostPort("--http-addr", addr);
  let shuttingDown = false;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const failingChecks = checks.filter((c) => !c.ready());
      const failing = failingChecks.map((c) => c.name);
      if (shuttingDown) failing.unshift("shutting-down");
      // First line: the failing checks; then one line of detail per check that has some.
      const details = failingChecks.flatMap((c) => {
        const d = c.detail?.();
        return d ? [`${c.name}: ${d}\n`] : [];
      });
      if (failing.length === 0) res.writeHead(200, { "content-type": "text/plain" }).end("ready\n");
      else res.writeHead(503, { "content-type": "text/plain" }).end(`not ready: ${failing.join(", ")}\n${details.join("")}`);
      return;
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  log.info({ http: `${address.host}:${address.port}` }, "health and metrics listening");
  return {
    address,
    setNotReady: () => {
      shuttingDown = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
