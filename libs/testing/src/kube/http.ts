import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";

export interface KubeRequestOptions {
  method?: string;
  /** JSON-encoded unless a string. */
  body?: unknown;
  /** Bearer token; omitted when undefined. */
  token?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface KubeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  body: unknown;
}

/**
 * Minimal HTTP(S) client for the harness itself (readiness probes, TokenRequest).
 * `ca` is the PEM bundle used to verify the server; TLS is always verified.
 */
export function kubeRequest(
  baseUrl: string,
  path: string,
  ca: string | undefined,
  opts: KubeRequestOptions = {},
): Promise<KubeResponse> {
  const url = new URL(path, baseUrl);
  const payload =
    opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
  if (payload !== undefined) {
    headers["content-type"] ??= "application/json";
    headers["content-length"] = String(Buffer.byteLength(payload));
  }
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;

  return new Promise<KubeResponse>((resolve, reject) => {
    const options = { method: opts.method ?? "GET", headers, timeout: opts.timeoutMs ?? 10_000 };
    const req =
      url.protocol === "https:"
        ? httpsRequest(url, { ...options, ca, rejectUnauthorized: true })
        : httpRequest(url, options);
    req.on("timeout", () => req.destroy(new Error(`request ${options.method} ${url.href} timed out`)));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown;
        if ((res.headers["content-type"] ?? "").includes("json")) {
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
    });
    req.end(payload);
  });
}
