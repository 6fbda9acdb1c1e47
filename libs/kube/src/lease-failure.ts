import { ApiCallTimeout, apiErrorMessage, apiStatusCode } from "./api-errors.js";

/** Why a lease attempt failed, other than the lease being held by another replica (bounded). */
export type LeaseFailureReason = "NamespaceNotFound" | "Unauthorized" | "Forbidden" | "Throttled" | "ServerError" | "Timeout" | "Unreachable" | "Rejected";

/** A lease attempt that failed for a reason another replica holding it does not explain. */
export class LeaseAttemptFailed extends Error {
  override readonly name = "LeaseAttemptFailed";
  constructor(
    readonly reason: LeaseFailureReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Classifies a failed Lease API call. `step` says which call: a 404 on create means the
 * namespace does not exist. Returns undefined for a lost race (409: another replica wrote
 * first), which is contention, not a problem.
 */
export function leaseFailure(err: unknown, step: "read" | "create" | "update", namespace: string): LeaseAttemptFailed | undefined {
  const code = apiStatusCode(err);
  if (code === 409) return undefined;
  const detail = apiErrorMessage(err);
  const fail = (reason: LeaseFailureReason, message: string) => new LeaseAttemptFailed(reason, message, { cause: err });
  if (err instanceof ApiCallTimeout) return fail("Timeout", `${step} of the lease timed out: the API server does not answer in time`);
  if (code === undefined) return fail("Unreachable", `cannot reach the API server (${step}): ${detail}`);
  if (code === 404 && step === "create") {
    return fail("NamespaceNotFound", `namespace "${namespace}" does not exist: create it or set --lease-namespace (${detail})`);
  }
  if (code === 401) return fail("Unauthorized", `the API server does not accept these credentials (${detail})`);
  if (code === 403) return fail("Forbidden", `RBAC forbids this identity to ${step} Leases in "${namespace}" (${detail})`);
  if (code === 429) return fail("Throttled", `the API server is throttling requests (${detail})`);
  if (code >= 500) return fail("ServerError", `the API server failed the ${step} (${detail})`);
  return fail("Rejected", `the API server rejected the ${step} of the lease (${detail})`);
}
