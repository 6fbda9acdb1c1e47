import { describe, expect, it } from "vitest";
import type { CommandSpec } from "../commands/command.js";
import { commandHelp, findCommand, parseCommandArgs, parseTimeout } from "./args.js";
import { CliError } from "./errors.js";
import { wantsColor } from "./style.js";
import { renderTable } from "./table.js";

const spec: CommandSpec = {
  name: "xds",
  summary: "show things",
  args: "<fleet>",
  positionals: { min: 1, max: 1 },
  details: "Details.",
  options: {
    pool: { type: "string", multiple: true, description: "pools" },
    "fleet-config": { type: "string", env: "SHAREDLB_FLEET_CONFIG", description: "file" },
  },
};

describe("command line", () => {
  it("finds the command after global flags and their values", () => {
    expect(findCommand(["--nats-url", "nats://x:1", "--json", "xds", "edge"])).toEqual({
      command: "xds",
      rest: ["--nats-url", "nats://x:1", "--json", "edge"],
    });
    expect(findCommand(["--nats-url=nats://x:1", "status"]).command).toBe("status");
    expect(findCommand(["--help"]).command).toBeUndefined();
  });

  it("reads flags, then the environment, then defaults", () => {
    const p = parseCommandArgs(spec, ["edge", "--pool", "a", "--pool", "b"], {
      NATS_URL: "nats://env:4222",
      SHAREDLB_FLEET_CONFIG: "/f.yaml",
    });
    expect(p.positionals).toEqual(["edge"]);
    expect(p.values).toMatchObject({ pool: ["a", "b"], "nats-url": "nats://env:4222", "fleet-config": "/f.yaml", timeout: "10s" });
    expect(parseCommandArgs(spec, ["edge", "--nats-url", "nats://flag:1"], { NATS_URL: "nats://env:4222" }).values["nats-url"]).toBe(
      "nats://flag:1",
    );
    expect(parseCommandArgs(spec, ["edge"], {}).values["nats-url"]).toBe("nats://127.0.0.1:4222");
  });

  it("rejects unknown flags and wrong argument counts as usage errors", () => {
    expect(() => parseCommandArgs(spec, ["edge", "--nope"], {})).toThrow(CliError);
    expect(() => parseCommandArgs(spec, [], {})).toThrow(/expects <fleet>/);
    expect(parseCommandArgs(spec, ["--help"], {}).help).toBe(true);
    try {
      parseCommandArgs(spec, ["a", "b"], {});
    } catch (err) {
      expect((err as CliError).exitCode).toBe(2);
    }
  });

  it("documents every flag with its env and default", () => {
    const help = commandHelp(spec);
    expect(help).toMatch(/^Usage: sharedlb xds <fleet> \[flags\]/);
    expect(help).toContain("--fleet-config");
    expect(help).toContain("[env SHAREDLB_FLEET_CONFIG]");
    expect(help).toContain("[default nats://127.0.0.1:4222, env NATS_URL]");
  });

  it("parses timeouts", () => {
    expect([parseTimeout("10s"), parseTimeout("500ms"), parseTimeout("2m"), parseTimeout("250")]).toEqual([10_000, 500, 120_000, 250]);
    expect(() => parseTimeout("soon")).toThrow(CliError);
  });
});

describe("colour", () => {
  it("only on a TTY, never with NO_COLOR, --no-color or --json", () => {
    const base = { isTTY: true, json: false, noColorFlag: false, env: {} };
    expect(wantsColor(base)).toBe(true);
    expect(wantsColor({ ...base, isTTY: false })).toBe(false);
    expect(wantsColor({ ...base, env: { NO_COLOR: "1" } })).toBe(false);
    expect(wantsColor({ ...base, env: { NO_COLOR: "" } })).toBe(true);
    expect(wantsColor({ ...base, noColorFlag: true })).toBe(false);
    expect(wantsColor({ ...base, json: true })).toBe(false);
  });

  it("tables align on visible width", () => {
    const t = renderTable(
      [{ header: "A" }, { header: "N", align: "right" }, { header: "Z" }],
      [
        ["\u001b[32mok\u001b[39m", "7", "x"],
        ["long", "12", ""],
      ],
    );
    expect(t.replace(/\u001b\[\d+m/g, "")).toBe("A      N  Z\nok     7  x\nlong  12");
  });
});
