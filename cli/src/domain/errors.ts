/**
 * Every failure the CLI reports on purpose. `reason` is stable (scripts may match it);
 * the message is for people and always says what to do or where it looked.
 */
export type CliErrorReason =
  | "UsageError"
  | "NatsUnavailable"
  | "StreamMissing"
  | "ReadTimeout"
  | "UnknownService"
  | "InvalidFleetConfig"
  | "InvalidDuration"
  | "InvalidIdentities"
  | "TenantConflict";

export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    readonly reason: CliErrorReason,
    message: string,
  ) {
    super(message);
  }

  /** 2 for a command line that cannot run at all, 1 for everything that went wrong running it. */
  get exitCode(): number {
    return this.reason === "UsageError" || this.reason === "InvalidDuration" ? 2 : 1;
  }
}
