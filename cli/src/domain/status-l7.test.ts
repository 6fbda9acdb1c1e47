import { describe, expect, it } from "vitest";
import { l7Allocation, listenerAllocation } from "../test-support/l7-allocations.js";
import { renderL7Status, summarizeL7Allocations } from "./status-l7.js";
import { PLAIN_STYLE } from "./style.js";

const listener = listenerAllocation;
const alloc = l7Allocation;

describe("summarizeL7Allocations", () => {
  const report = summarizeL7Allocations([
    alloc("ingress", "a/shop/web", [
      listener({ name: "http", claimedHostnames: ["shop.example.com"] }),
      listener({ name: "https", protocol: "HTTPS", port: 443, claimedHostnames: ["shop.example.com"] }),
    ]),
    alloc("gateway", "b/blog/gw", [listener({ name: "web", claimedHostnames: ["blog.example.org"] })]),
    alloc("gateway", "b/blog/all", [listener({ name: "any", ip: "203.0.113.11", port: 8080, shared: false })]),
    alloc(
      "gateway",
      "b/blog/steal",
      [
        listener({
          name: "web",
          state: "Pending",
          ip: "",
          port: 0,
          reason: "HostnameConflict",
          message: "shop.example.com is taken on this IP and port",
          refusedHostnames: [{ hostname: "shop.example.com", reason: "HostnameConflict", message: "taken" }],
        }),
      ],
      { state: "Pending" },
    ),
    alloc("gateway", "a/shop/old", [], { state: "Released" }),
  ]);

  it("lists every hostname of a shared (IP, port) with the tenant cluster and object holding it", () => {
    const on80 = report.slots.find((s) => s.ip === "203.0.113.10" && s.port === 80);
    expect(on80?.shared).toBe(true);
    expect(on80?.hostnames).toEqual([
      { hostname: "blog.example.org", cluster: "b", object: "gateway blog/gw" },
      { hostname: "shop.example.com", cluster: "a", object: "ingress shop/web" },
    ]);
    expect(report.slots.map((s) => `${s.ip}:${s.port}`)).toEqual(["203.0.113.10:80", "203.0.113.10:443", "203.0.113.11:8080"]);
    expect(report.slots[2]?.hostnames).toEqual([{ hostname: "*", cluster: "b", object: "gateway blog/all" }]);
    expect(report.totals).toEqual({ objects: 4, hostnames: 4, ips: 2 });
  });

  it("names what waits, with the refused hostname and its reason; Released objects are left out", () => {
    expect(report.notServed).toEqual([
      {
        object: "gateway b/blog/steal",
        state: "Pending",
        reason: "HostnameConflict",
        refused: ["shop.example.com (HostnameConflict)"],
        message: "shop.example.com is taken on this IP and port",
      },
    ]);
    const text = renderL7Status(report, PLAIN_STYLE);
    expect(text).toMatch(/203\.0\.113\.10\s+80\/HTTP\s+shared\s+shop\.example\.com\s+a\s+ingress shop\/web/);
    expect(text).toMatch(/gateway b\/blog\/steal\s+Pending\s+HostnameConflict\s+shop\.example\.com \(HostnameConflict\)/);
  });

  it("prints nothing when there is no L7 object", () => {
    expect(renderL7Status(summarizeL7Allocations([]), PLAIN_STYLE)).toBe("");
  });
});
