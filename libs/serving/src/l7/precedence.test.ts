import type { RouteMatch } from "@sharedlb/contracts";
import { describe, expect, it } from "vitest";
import { comparePrecedence, grpcPath, type RankedMatch } from "./precedence.js";

let n = 0;
function ranked(match: RouteMatch, over: Partial<RankedMatch> = {}): RankedMatch & { id: number } {
  return { match, age: 1, objectKey: "a/shop/web", kind: "httproute", ruleIndex: 0, matchIndex: 0, id: n++, ...over };
}
const order = (items: (RankedMatch & { id: number })[]) => [...items].sort(comparePrecedence).map((i) => i.id);
const prefix = (value: string): RouteMatch => ({ path: { type: "PathPrefix", value } });

describe("Gateway API route precedence", () => {
  it("Exact, then the longest PathPrefix, then regular expressions, then the catch-all /", () => {
    const items = [
      ranked({}),
      ranked({ path: { type: "RegularExpression", value: "/items/[0-9]+" } }),
      ranked(prefix("/a")),
      ranked(prefix("/a/b")),
      ranked({ path: { type: "Exact", value: "/a" } }),
    ];
    expect(order(items)).toEqual([4, 3, 2, 1, 0].map((i) => items[i]?.id));
  });
  it("for one path: method, then more headers, then more query parameters", () => {
    const h = (name: string) => ({ name, value: "1", type: "Exact" as const });
    const items = [
      ranked({ ...prefix("/a"), queryParams: [h("q")] }),
      ranked({ ...prefix("/a"), headers: [h("x")] }),
      ranked({ ...prefix("/a"), headers: [h("x"), h("y")] }),
      ranked({ ...prefix("/a"), method: "GET" }),
      ranked(prefix("/a")),
    ];
    expect(order(items)).toEqual([3, 2, 1, 0, 4].map((i) => items[i]?.id));
  });
  it("ties: the older route, then namespace/name, then rule and match order", () => {
    const items = [
      ranked(prefix("/a"), { age: 5, objectKey: "a/shop/aaa" }),
      ranked(prefix("/a"), { age: 2, objectKey: "a/shop/zzz", ruleIndex: 1 }),
      ranked(prefix("/a"), { age: 2, objectKey: "a/shop/zzz", ruleIndex: 0, matchIndex: 1 }),
      ranked(prefix("/a"), { age: 2, objectKey: "a/shop/zzz", ruleIndex: 0, matchIndex: 0 }),
      ranked(prefix("/a"), { age: 5, objectKey: "a/other/aaa" }),
    ];
    expect(order(items)).toEqual([3, 2, 1, 4, 0].map((i) => items[i]?.id));
  });
});

describe("GRPCRoute matches as paths", () => {
  it("service and method exact is an exact path; a service alone a prefix; a method alone a regex", () => {
    expect(grpcPath({ grpc: { type: "Exact", service: "echo.Echo", method: "Say" } })).toEqual({ type: "Exact", value: "/echo.Echo/Say" });
    expect(grpcPath({ grpc: { type: "Exact", service: "echo.Echo" } })).toEqual({ type: "PathPrefix", value: "/echo.Echo/" });
    expect(grpcPath({ grpc: { type: "Exact", method: "Say.It" } })).toEqual({ type: "RegularExpression", value: "/[^/]+/Say\\.It" });
    expect(grpcPath({ grpc: { type: "RegularExpression", service: "echo\\..*" } })).toEqual({
      type: "RegularExpression",
      value: "/echo\\..*/[^/]+",
    });
  });
});
