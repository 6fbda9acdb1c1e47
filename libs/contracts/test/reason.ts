/** The `reason` of the error `fn` throws when it is a `type`; "no error" when it returns. */
export function reasonOf<E extends Error & { reason: string }>(type: abstract new (...args: never[]) => E, fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err.reason;
    throw err;
  }
  return "no error";
}
