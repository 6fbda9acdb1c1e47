import type { AllocatedPort, Protocol } from "./payloads.js";

/** Annotations tenants set on Services, and the one sharedlb writes back. */
export const ANNOTATIONS = {
  pool: "sharedlb.io/pool",
  ip: "sharedlb.io/ip",
  portPolicy: "sharedlb.io/port-policy",
  ports: "sharedlb.io/ports",
  proxyProtocol: "sharedlb.io/proxy-protocol",
  allocatedPorts: "sharedlb.io/allocated-ports",
} as const;

export const ANNOTATION_PREFIX = "sharedlb.io/";
export const CONDITION_ALLOCATED = "sharedlb.io/Allocated";
export const DEFAULT_LOAD_BALANCER_CLASS = "sharedlb.io/envoy";

/** One `service port[/PROTO]=external port` item of `sharedlb.io/ports`. */
export interface PortMapping {
  servicePort: number;
  /** Absent: applies to every protocol of that service port. */
  protocol?: Protocol;
  externalPort: number;
}

export class PortMappingSyntaxError extends Error {
  override readonly name = "PortMappingSyntaxError";
  readonly reason = "InvalidAnnotation";
}

const ITEM = /^(\d{1,5})(?:\/(TCP|UDP|SCTP))?=(\d{1,5})$/;

/** Parses `8443=443,5353/UDP=53`. Throws PortMappingSyntaxError naming the bad item. */
export function parsePortMappings(value: string): PortMapping[] {
  const out: PortMapping[] = [];
  const seen = new Set<string>();
  for (const rawItem of value.split(",")) {
    const item = rawItem.trim();
    if (item === "") continue;
    const m = ITEM.exec(item);
    if (!m) {
      throw new PortMappingSyntaxError(
        `"${item}" is not <service port>[/TCP|UDP]=<external port> (e.g. 8443=443 or 5353/UDP=53)`,
      );
    }
    const servicePort = Number(m[1]);
    const externalPort = Number(m[3]);
    for (const p of [servicePort, externalPort]) {
      if (p < 1 || p > 65535) throw new PortMappingSyntaxError(`"${item}": port ${p} is outside 1-65535`);
    }
    const protocol = m[2] as Protocol | undefined;
    const key = `${servicePort}/${protocol ?? "*"}`;
    if (seen.has(key)) throw new PortMappingSyntaxError(`"${item}": service port ${servicePort} is mapped twice`);
    seen.add(key);
    out.push(protocol ? { servicePort, protocol, externalPort } : { servicePort, externalPort });
  }
  return out;
}

/** `443/TCP=443,53/UDP=10053`: the form of `sharedlb.io/allocated-ports`. */
export function formatAllocatedPorts(ports: readonly Pick<AllocatedPort, "port" | "protocol" | "externalPort">[]): string {
  return [...ports]
    .sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol))
    .map((p) => `${p.port}/${p.protocol}=${p.externalPort}`)
    .join(",");
}
