/** Stable description of any thrown value for logs and events, with its causes. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": caused by: ");
}

export function errorReason(err: unknown): string {
  if (err && typeof err === "object" && "reason" in err && typeof err.reason === "string") return err.reason;
  return "InternalError";
}

/** What a log line carries about an error: its class, stable reason, message and causes. */
export interface ErrorDetails {
  name: string;
  reason?: string;
  message: string;
  cause?: ErrorDetails;
}

export function errorDetails(err: unknown, depth = 0): ErrorDetails {
  if (!(err instanceof Error)) return { name: typeof err, message: String(err) };
  const details: ErrorDetails = { name: err.name, message: err.message };
  const reason = errorReason(err);
  if (reason !== "InternalError") details.reason = reason;
  if (err.cause !== undefined && depth < 4) details.cause = errorDetails(err.cause, depth + 1);
  return details;
}
