import { describe, expect, it } from "vitest";
import { claimed, covers, effectiveHostnames, intersect } from "./hostnames.js";

describe("covers: Gateway API wildcards are suffix matches", () => {
  it.each([
    ["*.example.com", "a.example.com", true],
    ["*.example.com", "a.b.example.com", true],
    ["*.example.com", "*.a.example.com", true],
    ["*.example.com", "example.com", false],
    ["*.example.com", "aexample.com", false],
    ["*.a.example.com", "*.example.com", false],
    ["a.example.com", "a.example.com", true],
    ["a.example.com", "b.example.com", false],
    ["a.example.com", "*.example.com", false],
  ])("%s covers %s: %s", (pattern, name, expected) => {
    expect(covers(pattern, name)).toBe(expected);
  });
});

describe("intersect: a route hostname on a listener hostname", () => {
  it.each([
    [undefined, "a.example.com", "a.example.com"],
    ["a.example.com", "a.example.com", "a.example.com"],
    ["*.example.com", "a.example.com", "a.example.com"],
    ["a.example.com", "*.example.com", "a.example.com"],
    ["*.example.com", "*.a.example.com", "*.a.example.com"],
    ["*.a.example.com", "*.example.com", "*.a.example.com"],
    ["*.example.com", "example.com", undefined],
    ["a.example.com", "b.example.com", undefined],
    ["*.example.org", "a.example.com", undefined],
  ])("listener %s, route %s → %s", (listener, route, expected) => {
    expect(intersect(listener, route)).toBe(expected);
  });
});

describe("effectiveHostnames", () => {
  it("is the listener's hostname when the route has none, * without either", () => {
    expect(effectiveHostnames("*.example.com", [])).toEqual(["*.example.com"]);
    expect(effectiveHostnames(undefined, [])).toEqual(["*"]);
  });
  it("keeps only the route hostnames that intersect, sorted and once each", () => {
    expect(effectiveHostnames("*.example.com", ["b.example.com", "x.example.org", "a.example.com", "b.example.com"])).toEqual([
      "a.example.com",
      "b.example.com",
    ]);
  });
});

describe("claimed", () => {
  it("serves a name under a claimed wildcard, not a name another tenant may hold", () => {
    expect(claimed(["*.example.com"], "a.example.com")).toBe(true);
    expect(claimed(["a.example.com"], "b.example.com")).toBe(false);
    expect(claimed([], "a.example.com")).toBe(false);
    expect(claimed("all", "anything.example.net")).toBe(true);
  });
});
