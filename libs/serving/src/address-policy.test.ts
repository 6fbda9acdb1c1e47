import { describe, expect, it } from "vitest";
import { InvalidNodeAddressPolicyError, NodeAddressPolicy } from "./address-policy.js";

const builtIn = NodeAddressPolicy.BUILT_IN;
const reason = (policy: NodeAddressPolicy, address: string, cluster = "a") => policy.check(cluster, address)?.reason;

describe("NodeAddressPolicy", () => {
  it.each([
    ["127.0.0.1", "Loopback"],
    ["127.8.9.10", "Loopback"],
    ["::1", "Loopback"],
    ["::ffff:127.0.0.1", "Loopback"],
    ["::ffff:7f00:1", "Loopback"],
    ["64:ff9b::127.0.0.1", "Loopback"],
    ["169.254.169.254", "LinkLocal"],
    ["::ffff:169.254.169.254", "LinkLocal"],
    ["fe80::1", "LinkLocal"],
    ["febf::1", "LinkLocal"],
    ["fe80::1%eth0", "Scoped"],
    ["0.0.0.0", "Unspecified"],
    ["0.1.2.3", "Unspecified"],
    ["::", "Unspecified"],
    ["224.0.0.1", "Multicast"],
    ["239.255.255.250", "Multicast"],
    ["ff02::1", "Multicast"],
    ["255.255.255.255", "Broadcast"],
  ])("refuses %s (%s) without any configuration", (address, why) => {
    expect(reason(builtIn, address)).toBe(why);
    expect(builtIn.check("a", address)?.message).toContain(address);
  });

  it.each(["10.0.0.1", "192.168.1.5", "203.0.113.7", "2001:db8::1", "fd00::5", "::ffff:10.0.0.1", "fec0::1", "223.255.255.255"])(
    "serves %s without any configuration",
    (address) => {
      expect(builtIn.check("a", address)).toBeUndefined();
    },
  );

  it("refuses the LB cluster's own ranges, also written as IPv4-mapped IPv6", () => {
    const policy = NodeAddressPolicy.fromConfig({ lbClusterCidrs: ["10.96.0.0/12", "fd10::/64"] });
    expect(reason(policy, "10.96.0.10")).toBe("LbClusterRange");
    expect(reason(policy, "10.111.255.255")).toBe("LbClusterRange");
    expect(reason(policy, "::ffff:10.100.0.1")).toBe("LbClusterRange");
    expect(reason(policy, "fd10::abcd")).toBe("LbClusterRange");
    expect(policy.check("a", "10.96.0.10")?.message).toContain("10.96.0.0/12");
    expect(reason(policy, "10.112.0.1")).toBeUndefined();
    expect(reason(policy, "fd10:0:0:1::1")).toBeUndefined();
  });

  it("allows only the configured ranges for a listed tenant cluster, and leaves other clusters unrestricted", () => {
    const policy = NodeAddressPolicy.fromConfig({ allowedCidrs: { a: ["10.1.0.0/16", "2001:db8:a::/48"] } });
    expect(reason(policy, "10.1.2.3", "a")).toBeUndefined();
    expect(reason(policy, "2001:db8:a::9", "a")).toBeUndefined();
    expect(reason(policy, "10.2.0.1", "a")).toBe("NotAllowed");
    expect(reason(policy, "2001:db8:b::9", "a")).toBe("NotAllowed");
    expect(policy.check("a", "10.2.0.1")?.message).toMatch(
      /outside the ranges allowed for cluster "a" \(10\.1\.0\.0\/16, 2001:db8:a::\/48\)/,
    );
    expect(reason(policy, "10.2.0.1", "b")).toBeUndefined();
    // The built-in rules hold inside an allowed range too.
    expect(reason(NodeAddressPolicy.fromConfig({ allowedCidrs: { a: ["0.0.0.0/0"] } }), "127.0.0.1", "a")).toBe("Loopback");
  });

  it("serves loopback only when explicitly allowed (tests, single-host demos), and still applies the other rules", () => {
    const policy = NodeAddressPolicy.fromConfig({ allowLoopback: true, allowedCidrs: { a: ["127.0.0.0/24"] } });
    expect(reason(policy, "127.0.0.2")).toBeUndefined();
    expect(reason(policy, "::ffff:127.0.0.3")).toBeUndefined();
    expect(reason(policy, "127.0.1.1")).toBe("NotAllowed");
    expect(reason(policy, "169.254.169.254")).toBe("LinkLocal");
    expect(reason(NodeAddressPolicy.fromConfig({ allowLoopback: false }), "127.0.0.2")).toBe("Loopback");
  });

  it.each([
    [{ lbClusterCidrs: ["10.0.0.0/33"] }, "lbClusterCidrs[0]"],
    [{ lbClusterCidrs: ["10.0.0.0/8", "nope"] }, "lbClusterCidrs[1]"],
    [{ allowedCidrs: { a: ["10.0.0.0/8"], b: ["2001:db8::/129"] } }, "allowedCidrs.b[0]"],
    [{ allowedCidrs: { a: ["010.0.0.0/8"] } }, "allowedCidrs.a[0]"],
    [{ allowedCidrs: { a: ["10.0.0.0/x"] } }, "allowedCidrs.a[0]"],
  ])("rejects a bad range with an error naming it: %j", (config, path) => {
    expect(() => NodeAddressPolicy.fromConfig(config)).toThrow(InvalidNodeAddressPolicyError);
    expect(() => NodeAddressPolicy.fromConfig(config)).toThrow(path);
  });
});
