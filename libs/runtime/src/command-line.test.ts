import { describe, expect, it } from "vitest";
import { type FlagSpec, parseCommandLine } from "./command-line.js";
import { ConfigError } from "./config.js";
import { parseDuration } from "./duration.js";

const SPEC = {
  interval: {
    flag: "retry-interval",
    env: "SHAREDLB_RETRY_INTERVAL",
    kind: "duration",
    formerly: { flag: "retry-interval-ms", env: "SHAREDLB_RETRY_INTERVAL_MS" },
    legacyBareUnit: "ms",
    default: "500ms",
    description: "pause between retries",
  },
  ackWait: { flag: "ack-wait", env: "SHAREDLB_ACK_WAIT", kind: "duration", min: "1s", default: "30s", description: "redelivery" },
  timeout: { flag: "timeout", env: "SHAREDLB_TIMEOUT", kind: "duration", description: "optional" },
  concurrency: { flag: "concurrency", env: "SHAREDLB_CONCURRENCY", formerly: { env: "ALLOCATOR_CONCURRENCY" }, default: "256", description: "at once" },
} as const satisfies Record<string, FlagSpec>;

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseCommandLine("prog", "summary", SPEC, argv, env);

describe("durations", () => {
  it("take a unit and arrive as milliseconds", () => {
    expect(parseDuration("x", "500ms")).toBe(500);
    expect(parseDuration("x", "1.5s")).toBe(1500);
    expect(parseDuration("x", "5m")).toBe(300_000);
    expect(parseDuration("x", "1h")).toBe(3_600_000);
  });

  it("reject a bare number and anything else, naming the flag", () => {
    expect(() => parseDuration("ack-wait", "30")).toThrow(/--ack-wait "30" is not a duration/);
    expect(() => parseDuration("ack-wait", "soon")).toThrow(ConfigError);
  });
});

describe("parseCommandLine", () => {
  it("reads flag, then env, then default; durations as milliseconds", () => {
    expect(parse([]).values).toEqual({ interval: 500, ackWait: 30_000, timeout: undefined, concurrency: "256" });
    expect(parse([], { SHAREDLB_ACK_WAIT: "2m" }).values.ackWait).toBe(120_000);
    expect(parse(["--ack-wait", "5s"], { SHAREDLB_ACK_WAIT: "2m" }).values.ackWait).toBe(5000);
    expect(parse([]).warnings).toEqual([]);
  });

  it("names the flag and the env variable of a bad duration", () => {
    expect(() => parse(["--retry-interval", "fast"])).toThrow(/^--retry-interval "fast" is not a duration/);
    expect(() => parse([], { SHAREDLB_ACK_WAIT: "x" })).toThrow(/env SHAREDLB_ACK_WAIT \(--ack-wait\) "x" is not a duration/);
    expect(() => parse(["--ack-wait", "500ms"])).toThrow(/--ack-wait "500ms" must be at least 1s/);
    expect(() => parse(["--timeout", "0s"])).toThrow(/--timeout "0s" must be above zero/);
  });

  it("still reads former names for one release, with a warning naming the new one", () => {
    const old = parse(["--retry-interval-ms", "100"], { ALLOCATOR_CONCURRENCY: "8" });
    expect(old.values.interval).toBe(100);
    expect(old.values.concurrency).toBe("8");
    expect(old.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/--retry-interval-ms is deprecated.*use --retry-interval/),
        expect.stringMatching(/env ALLOCATOR_CONCURRENCY is deprecated.*use env SHAREDLB_CONCURRENCY/),
      ]),
    );
    expect(parse([], { SHAREDLB_RETRY_INTERVAL_MS: "250" }).values.interval).toBe(250);
  });

  it("prefers the current name over a former one", () => {
    const both = parse(["--retry-interval", "2s", "--retry-interval-ms", "100"]);
    expect(both.values.interval).toBe(2000);
    expect(both.warnings).toEqual([]);
  });

  it("reads a bare number in the flag's former unit, with a warning asking for the unit", () => {
    const bare = parse(["--retry-interval", "700"]);
    expect(bare.values.interval).toBe(700);
    expect(bare.warnings).toEqual([expect.stringMatching(/"700" has no unit.*write 700ms/)]);
    expect(() => parse(["--ack-wait", "30"])).toThrow(/not a duration/);
  });

  it("lists every flag with its env and default, and the former names, in --help", () => {
    const { help } = parse([]);
    expect(help).toMatch(/--retry-interval\s+pause between retries \(default 500ms\)\s+\[env SHAREDLB_RETRY_INTERVAL\]/);
    expect(help).toMatch(/--retry-interval-ms, env SHAREDLB_RETRY_INTERVAL_MS → --retry-interval/);
    expect(help).toMatch(/env ALLOCATOR_CONCURRENCY → --concurrency/);
  });

  it("rejects an unknown flag with a pointer to --help", () => {
    expect(() => parse(["--nope"])).toThrow(/prog: .*nope.*\(see --help\)/);
  });
});
