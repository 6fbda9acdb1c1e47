import type { NatsSession } from "../adapters/nats.js";
import type { Style } from "../domain/style.js";

export interface OptionSpec {
  type: "string" | "boolean";
  description: string;
  /** Environment variable read when the flag is absent. */
  env?: string;
  default?: string;
  multiple?: boolean;
  /** Placeholder in help, e.g. `<url>`. */
  value?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Arguments after the command name, as shown in help. */
  args: string;
  positionals: { min: number; max: number };
  /** Longer help: what it reads and what it prints. */
  details: string;
  options: Record<string, OptionSpec>;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** What a command gets from main: output, style, and a way to reach NATS. */
export interface CommandContext {
  json: boolean;
  style: Style;
  /** Per-read idle deadline and connect timeout. */
  timeoutMs: number;
  env: Record<string, string | undefined>;
  now(): Date;
  write(text: string): void;
  warn(text: string): void;
  connect(opts?: { reconnect?: boolean }): Promise<NatsSession>;
  /** Resolves when the user interrupts (SIGINT/SIGTERM): how --follow ends. */
  interrupted: Promise<void>;
}

export interface Command {
  spec: CommandSpec;
  /** Returns the exit code. */
  run(ctx: CommandContext, values: OptionValues, positionals: string[]): Promise<number>;
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
