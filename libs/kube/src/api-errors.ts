import { ApiException } from "@kubernetes/client-node";

/** HTTP status of a failed API call; undefined when the request never got an answer. */
export function apiStatusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (err && typeof err === "object") {
    const o = err as { code?: unknown; statusCode?: unknown };
    if (typeof o.code === "number") return o.code;
    if (typeof o.statusCode === "number") return o.statusCode;
  }
  return undefined;
}

/** The `message` of a Kubernetes Status body, or the error's own message. */
export function apiErrorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    let parsed: unknown = body;
    if (typeof body === "string") {
      try {
        parsed = JSON.parse(body);
      } catch {
        return `HTTP ${err.code}: ${body.slice(0, 500)}`;
      }
    }
    if (parsed && typeof parsed === "object" && "message" in parsed && typeof parsed.message === "string") {
      return `HTTP ${err.code}: ${parsed.message}`;
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Worth retrying: no answer at all (network, timeout), conflicts, throttling, server
 * errors. Everything else (403, 404, 422…) will fail the same way again.
 */
export function isTransientApiError(err: unknown): boolean {
  const code = apiStatusCode(err);
  return code === undefined || code === 409 || code === 429 || code >= 500;
}

/** Bounded label for metrics: the status class, never the message. */
export function apiErrorClass(err: unknown): string {
  const code = apiStatusCode(err);
  if (code === undefined) return "network";
  if (code === 409 || code === 403 || code === 404 || code === 422 || code === 429) return String(code);
  return `${Math.floor(code / 100)}xx`;
}

export class ApiCallTimeout extends Error {
  override readonly name = "ApiCallTimeout";
  readonly reason = "ApiCallTimeout";
}

/**
 * Gives up waiting after `ms`. The request may still complete in the background; callers
 * use this where a late answer is as bad as none (lease renewal).
 */
export function withTimeout<T>(what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ApiCallTimeout(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
