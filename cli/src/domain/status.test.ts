import { describe, expect, it } from "vitest";
import type { Allocation } from "@sharedlb/contracts";
import { renderStatus, summarizeAllocations } from "./status.js";
import { PLAIN_STYLE } from "./style.js";

function alloc(key: string, over: Partial<Allocation> = {}): Allocation {
  const [cluster = "", namespace = "", name = ""] = key.split("/");
  return {
    cluster,
    namespace,
    name,
    uid: key,
    state: "Allocated",
    pool: "public",
    ip: "203.0.113.10",
    ports: [],
    reason: "",
    message: "",
    resourceSequence: 1,
    ...over,
  };
}
const port = (protocol: "TCP" | "UDP", p: number) => ({ name: "", protocol, port: p, externalPort: p, nodePort: 30000 + p });

describe("summarizeAllocations, dual-stack", () => {
  it("counts a dual-stack Service's slots on each of its addresses, under its allocation's pool", () => {
    const r = summarizeAllocations([alloc("a/x/dual", { ips: ["203.0.113.10", "2001:db8::10"], ports: [port("TCP", 443)] })]);
    expect(r.pools[0]?.ips.map((ip) => [ip.ip, ip.services, ip.ports])).toEqual([
      ["203.0.113.10", 1, 1],
      ["2001:db8::10", 1, 1],
    ]);
    expect(r.totals).toMatchObject({ allocated: 1, ips: 2, ports: 2 });
  });
});

describe("summarizeAllocations", () => {
  const report = summarizeAllocations([
    alloc("a/x/one", { ports: [port("TCP", 443), port("UDP", 443)] }),
    alloc("b/x/two", { ports: [port("TCP", 80)] }),
    alloc("a/x/three", { ip: "203.0.113.9", ports: [port("TCP", 22)] }),
    alloc("a/x/ten", { pool: "edge", ip: "198.51.100.1", ports: [port("TCP", 25)] }),
    alloc("a/x/wait", { state: "Pending", ip: "", reason: "PortUnavailable", message: "port 443/TCP is taken" }),
    alloc("a/x/bad", { state: "Failed", pool: "", ip: "", reason: "UnknownPool", message: "no pool\nnamed x" }),
    alloc("a/x/gone", { state: "Released", ip: "" }),
  ]);

  it("counts Services, slots and tenants per IP, ordered by pool then numeric IP", () => {
    expect(report.pools.map((p) => p.pool)).toEqual(["edge", "public", ""]);
    const pub = report.pools[1];
    expect(pub?.ips).toEqual([
      { ip: "203.0.113.9", services: 1, ports: 1, tcpPorts: 1, udpPorts: 0, clusters: 1 },
      { ip: "203.0.113.10", services: 2, ports: 3, tcpPorts: 2, udpPorts: 1, clusters: 2 },
    ]);
    expect(pub).toMatchObject({ allocated: 3, pending: 1, failed: 0, released: 1, ports: 4 });
    expect(report.pools[2]).toMatchObject({ pool: "", failed: 1, ips: [] });
    expect(report.totals).toEqual({ services: 7, allocated: 4, pending: 1, failed: 1, released: 1, ips: 3, ports: 5 });
  });

  it("lists what is not served with reasons", () => {
    expect(report.notServed.map((n) => [n.service, n.state, n.pool, n.reason])).toEqual([
      ["a/x/bad", "Failed", "", "UnknownPool"],
      ["a/x/wait", "Pending", "public", "PortUnavailable"],
    ]);
  });

  it("renders aligned tables, one line per message", () => {
    const text = renderStatus(report, PLAIN_STYLE);
    expect(text).toContain("public  203.0.113.10         2      3    2    1         2");
    expect(text).toMatch(/\(no pool\)\s+0\s+0\s+0\s+0\s+1\s+0/);
    expect(text).toContain("a/x/bad   Failed   -       UnknownPool      no pool named x");
    expect(text.split("\n").every((l) => l === l.trimEnd())).toBe(true);
  });

  it("says so when there is nothing", () => {
    expect(renderStatus(summarizeAllocations([]), PLAIN_STYLE)).toMatch(/^No allocations yet/);
  });

  it("caps the not-served list", () => {
    const many = summarizeAllocations(Array.from({ length: 5 }, (_, i) => alloc(`a/x/s${i}`, { state: "Pending", ip: "" })));
    expect(renderStatus(many, PLAIN_STYLE, 2)).toContain("… and 3 more");
  });
});
