import { type Cidr, cidrContains, embeddedIpv4, InvalidCidrError, type IpAddress, parseCidr, parseIp } from "./ip.js";

/**
 * Why a node address is never used as an Envoy upstream. A tenant publishes its nodes'
 * addresses, so without these checks it could aim the LB cluster's Envoys at their own
 * admin port (127.0.0.1), a cloud metadata service (169.254.169.254) or anything else the
 * LB cluster reaches. Bounded: used as a metric label.
 */
export const ADDRESS_REFUSAL_REASONS = [
  "Unspecified",
  "Loopback",
  "LinkLocal",
  "Multicast",
  "Broadcast",
  "Scoped",
  "LbClusterRange",
  "NotAllowed",
] as const;
export type AddressRefusalReason = (typeof ADDRESS_REFUSAL_REASONS)[number];

export interface AddressRefusal {
  readonly reason: AddressRefusalReason;
  /** One sentence naming the address and the rule, for logs and `sharedlb explain`. */
  readonly message: string;
}

/** The operator's part of the policy, as the fleet file gives it. */
export interface NodeAddressPolicyConfig {
  /** The LB cluster's own ranges (pods, Services, nodes): never an upstream. */
  readonly lbClusterCidrs?: readonly string[];
  /** Per tenant cluster, the only ranges its node addresses may be in; a cluster not listed is not restricted. */
  readonly allowedCidrs?: Readonly<Record<string, readonly string[]>>;
  /**
   * Serve loopback node addresses. Only for tests and single-host demos, where stand-in
   * nodes listen on 127.0.0.x: it lets a tenant reach whatever listens on the Envoy host.
   */
  readonly allowLoopback?: boolean;
}

export class InvalidNodeAddressPolicyError extends Error {
  override readonly name = "InvalidNodeAddressPolicyError";
  readonly reason = "InvalidNodeAddressPolicy";
}

const ALWAYS_REFUSED: readonly [Cidr, AddressRefusalReason, string][] = [
  [parseCidr("0.0.0.0/8"), "Unspecified", 'is in 0.0.0.0/8 (unspecified, "this network")'],
  [parseCidr("127.0.0.0/8"), "Loopback", "is loopback (127.0.0.0/8)"],
  [parseCidr("169.254.0.0/16"), "LinkLocal", "is link-local (169.254.0.0/16, where cloud metadata services live)"],
  [parseCidr("224.0.0.0/4"), "Multicast", "is multicast (224.0.0.0/4)"],
  [parseCidr("255.255.255.255/32"), "Broadcast", "is the broadcast address"],
  [parseCidr("::/128"), "Unspecified", "is the unspecified address (::)"],
  [parseCidr("::1/128"), "Loopback", "is loopback (::1)"],
  [parseCidr("fe80::/10"), "LinkLocal", "is link-local (fe80::/10)"],
  [parseCidr("ff00::/8"), "Multicast", "is multicast (ff00::/8)"],
];

/**
 * Which node addresses may become Envoy upstreams: never unspecified, loopback,
 * link-local, multicast or broadcast (also when written as an IPv4-mapped or NAT64 IPv6
 * address), never inside the LB cluster's own ranges, and, for a tenant cluster the
 * operator lists, only inside that cluster's allowed ranges. Immutable.
 */
export class NodeAddressPolicy {
  /** The built-in rules only: what applies when the operator configures nothing. */
  static readonly BUILT_IN = new NodeAddressPolicy([], new Map(), false);

  private constructor(
    private readonly lbClusterCidrs: readonly Cidr[],
    private readonly allowedCidrs: ReadonlyMap<string, readonly Cidr[]>,
    private readonly allowLoopback: boolean,
  ) {}

  /** Validates the operator's ranges; throws InvalidNodeAddressPolicyError naming the bad entry. */
  static fromConfig(config: NodeAddressPolicyConfig): NodeAddressPolicy {
    const parse = (path: string, text: string): Cidr => {
      try {
        return parseCidr(text);
      } catch (err) {
        if (err instanceof InvalidCidrError) throw new InvalidNodeAddressPolicyError(`${path}: ${err.message}`, { cause: err });
        throw err;
      }
    };
    const lb = (config.lbClusterCidrs ?? []).map((c, i) => parse(`lbClusterCidrs[${i}]`, c));
    const allowed = new Map<string, readonly Cidr[]>();
    for (const [cluster, cidrs] of Object.entries(config.allowedCidrs ?? {})) {
      allowed.set(
        cluster,
        cidrs.map((c, i) => parse(`allowedCidrs.${cluster}[${i}]`, c)),
      );
    }
    return new NodeAddressPolicy(lb, allowed, config.allowLoopback === true);
  }

  /** Why `address` (a node of tenant cluster `cluster`) must not be served, or undefined when it may. */
  check(cluster: string, address: string): AddressRefusal | undefined {
    if (address.includes("%"))
      return { reason: "Scoped", message: `address ${address} carries an IPv6 zone: only plain addresses are served` };
    const ip = parseIp(address);
    // Unparseable addresses are not usable at all; node selection says so before asking.
    if (!ip) return undefined;
    const candidates: IpAddress[] = [ip];
    const v4 = embeddedIpv4(ip);
    if (v4) candidates.push(v4);
    for (const candidate of candidates) {
      for (const [cidr, reason, why] of ALWAYS_REFUSED) {
        if (reason === "Loopback" && this.allowLoopback) continue;
        if (cidrContains(cidr, candidate)) return { reason, message: `address ${address} ${why}` };
      }
      const own = this.lbClusterCidrs.find((c) => cidrContains(c, candidate));
      if (own) return { reason: "LbClusterRange", message: `address ${address} is in ${own.text}, one of the LB cluster's own ranges` };
    }
    const allowed = this.allowedCidrs.get(cluster);
    if (allowed && !candidates.some((c) => allowed.some((a) => cidrContains(a, c)))) {
      return {
        reason: "NotAllowed",
        message: `address ${address} is outside the ranges allowed for cluster "${cluster}" (${allowed.map((a) => a.text).join(", ")})`,
      };
    }
    return undefined;
  }
}
