import { describe, expect, it } from "vitest";
import { re2Problem, rulePairProblem, ruleProblem } from "./rule-checks.js";

describe("re2Problem", () => {
  it("accepts RE2 syntax and refuses what RE2 cannot compile", () => {
    expect(re2Problem("/items/[0-9]+")).toBeUndefined();
    expect(re2Problem("/(?=x)")).toMatch(/look-around/);
    expect(re2Problem("(a)\\1")).toMatch(/backreference/);
    expect(re2Problem("/items/[0-9")).toBeDefined();
  });
});

describe("rules Envoy cannot take", () => {
  const base = { matches: [], backends: [] };
  it("a header modifier with an invalid name or a Host rewrite", () => {
    const bad = (name: string) => ({
      ...base,
      filters: [{ type: "RequestHeaderModifier" as const, headers: { set: [{ name, value: "v" }], add: [], remove: [] } }],
    });
    expect(ruleProblem(bad("x-ok"))).toBeUndefined();
    expect(ruleProblem(bad("bad header"))).toMatch(/not a valid HTTP header name/);
    expect(ruleProblem(bad("Host"))).toMatch(/Host header/);
  });
  it("a redirect combined with a rewrite", () => {
    const rule = {
      ...base,
      filters: [
        { type: "RequestRedirect" as const, statusCode: 302 as const },
        { type: "URLRewrite" as const, hostname: "x.example.com" },
      ],
    };
    expect(ruleProblem(rule)).toMatch(/cannot be combined/);
  });
  it("ReplacePrefixMatch on a match that is not a prefix", () => {
    const rule = { ...base, filters: [{ type: "URLRewrite" as const, path: { type: "ReplacePrefixMatch" as const, value: "/x" } }] };
    expect(rulePairProblem(rule, { path: { type: "Exact", value: "/a" } })).toMatch(/PathPrefix/);
    expect(rulePairProblem(rule, { path: { type: "PathPrefix", value: "/a" } })).toBeUndefined();
    expect(rulePairProblem(rule, {})).toBeUndefined();
  });
});
