import { describe, expect, it } from "vitest";
import { effectiveHostnames, intersectHostnames } from "./hostnames.js";

describe("intersectHostnames", () => {
  it("a wildcard covers names under it at any depth, never its own suffix", () => {
    expect(intersectHostnames("*.example.com", "a.example.com")).toBe("a.example.com");
    expect(intersectHostnames("a.b.example.com", "*.example.com")).toBe("a.b.example.com");
    expect(intersectHostnames("*.example.com", "example.com")).toBeUndefined();
    expect(intersectHostnames("*.example.com", "badexample.com")).toBeUndefined();
  });

  it("two wildcards meet at the more specific one; unrelated names do not meet", () => {
    expect(intersectHostnames("*.example.com", "*.a.example.com")).toBe("*.a.example.com");
    expect(intersectHostnames("a.example.com", "b.example.com")).toBeUndefined();
  });
});

describe("effectiveHostnames", () => {
  it("intersects the route's hostnames with the listener's, or takes the listener's when the route has none", () => {
    expect(effectiveHostnames(["a.example.com", "other.org"], ["*.example.com"], false)).toEqual(["a.example.com"]);
    expect(effectiveHostnames([], ["shop.example.com"], false)).toEqual(["shop.example.com"]);
  });

  it("an exclusive listener without a hostname serves every hostname", () => {
    expect(effectiveHostnames([], [], true)).toEqual(["*"]);
    expect(effectiveHostnames(["x.org"], [], true)).toEqual(["x.org"]);
  });
});
