import { describeError } from "@sharedlb/runtime";
import { openNats } from "./adapters/nats.js";
import type { Command, CommandContext } from "./commands/command.js";
import { eventsCommand } from "./commands/events.js";
import { explainCommand } from "./commands/explain.js";
import { statusCommand } from "./commands/status.js";
import { tenantCommand } from "./commands/tenant.js";
import { xdsCommand } from "./commands/xds.js";
import { commandHelp, findCommand, parseCommandArgs, parseTimeout, rootHelp } from "./domain/args.js";
import { CliError } from "./domain/errors.js";
import { ANSI_STYLE, PLAIN_STYLE, wantsColor } from "./domain/style.js";

const COMMANDS: readonly Command[] = [statusCommand, explainCommand, eventsCommand, xdsCommand, tenantCommand];

async function main(argv: string[]): Promise<number> {
  const env = process.env;
  const { command: name, rest } = findCommand(argv);
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (name === "help") {
    const about = COMMANDS.find((c) => c.spec.name === rest.find((a) => !a.startsWith("-")));
    process.stdout.write(about ? commandHelp(about.spec) : rootHelp(COMMANDS.map((c) => c.spec)));
    return 0;
  }
  if (name !== undefined && !command) {
    throw new CliError(
      "UsageError",
      `unknown command "${name}" (commands: ${COMMANDS.map((c) => c.spec.name).join(", ")}; see sharedlb --help)`,
    );
  }
  const parsed = parseCommandArgs(command?.spec, rest, env);
  if (!command || parsed.help) {
    const text = command ? commandHelp(command.spec) : rootHelp(COMMANDS.map((c) => c.spec));
    // Asked-for help is output; help instead of a missing command is a usage error.
    if (parsed.help) process.stdout.write(text);
    else process.stderr.write(text);
    return parsed.help ? 0 : 2;
  }
  const json = parsed.values.json === true;
  const natsUrl = String(parsed.values["nats-url"]);
  const timeoutMs = parseTimeout(String(parsed.values.timeout));
  const color = wantsColor({ isTTY: process.stdout.isTTY === true, json, noColorFlag: parsed.values["no-color"] === true, env });
  const interrupted = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  const ctx: CommandContext = {
    json,
    style: color ? ANSI_STYLE : PLAIN_STYLE,
    timeoutMs,
    env,
    now: () => new Date(),
    write: (text) => {
      process.stdout.write(text);
    },
    warn: (text) => {
      process.stderr.write(text);
    },
    connect: (opts) => openNats(natsUrl, { timeoutMs, reconnect: opts?.reconnect === true }),
    interrupted,
  };
  return command.run(ctx, parsed.values, parsed.positionals);
}

// An EPIPE (output piped into `head`) is the reader leaving, not an error worth a message.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
});

main(process.argv.slice(2)).then(
  (code) => {
    // Flush before exiting: large outputs to a pipe are written asynchronously.
    process.stdout.write("", () => process.exit(code));
  },
  (err: unknown) => {
    // Expected failures get their message; anything else gets one line too, never a stack.
    const message = err instanceof CliError ? err.message : `unexpected error: ${describeError(err)}`;
    process.stderr.write(`sharedlb: ${message}\n`);
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
    process.stdout.write("", () => process.exit(process.exitCode));
  },
);
