/**
 * A message or value that does not satisfy the wire contract. `reason` is stable and
 * machine-readable; `path` points at the offending field when there is one.
 */
export class ContractViolation extends Error {
  override readonly name = "ContractViolation";
  constructor(
    readonly reason:
      | "MalformedJson"
      | "InvalidEnvelope"
      | "UnknownEventType"
      | "InvalidPayload"
      | "SubjectMismatch"
      | "InvalidSubject"
      | "InvalidName",
    message: string,
    readonly path = "",
  ) {
    super(message);
  }
}
