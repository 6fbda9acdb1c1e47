import { type Static, Type } from "@sinclair/typebox";
import { InvalidNodeAddressPolicyError, NodeAddressPolicy } from "./address-policy.js";
import { type HealthCheckSettings, KUBE_PROXY_HEALTHZ_PORT, PoolHealthChecks } from "./plan.js";

const CidrText = Type.String({ minLength: 1, maxLength: 49, description: "an IP range such as 10.0.0.0/8 or fd00::/8" });

const HealthCheckModeSchema = Type.Union([Type.Literal("tcp"), Type.Literal("kubeProxy")], {
  description:
    "tcp (default): TCP connect to the NodePort; kubeProxy: HTTP /healthz on healthCheckNodePort (Local) or kube-proxy's health port (Cluster)",
});
const KubeProxyPortSchema = Type.Integer({
  minimum: 1,
  maximum: 65535,
  description: "kube-proxy's --healthz-bind-address port on the tenant nodes (default 10256)",
});
/** The health check keys a fleet file accepts at its top level, per fleet and per pool. */
const HealthCheckKeys = {
  healthChecks: Type.Optional(HealthCheckModeSchema),
  kubeProxyHealthzPort: Type.Optional(KubeProxyPortSchema),
};

/** The fleet file (`--config`): which pools each Envoy fleet serves. */
export const FleetFileSchema = Type.Object(
  {
    fleets: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 253, description: "matched against the Envoy node's `cluster`" }),
          pools: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1 }),
          ...HealthCheckKeys,
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    ...HealthCheckKeys,
    pools: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 253 }), Type.Object(HealthCheckKeys, { additionalProperties: false }), {
        description: "per pool, health check settings overriding those of the fleets serving it",
      }),
    ),
    nodeAddresses: Type.Optional(
      Type.Object(
        {
          lbClusterCidrs: Type.Optional(
            Type.Array(CidrText, { maxItems: 1024, description: "the LB cluster's own ranges (pods, Services, nodes): never an upstream" }),
          ),
          allowedCidrs: Type.Optional(
            Type.Record(
              Type.String({ pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" }),
              Type.Array(CidrText, { minItems: 1, maxItems: 1024 }),
              {
                additionalProperties: false,
                description: "per tenant cluster id, the only ranges its node addresses may be in",
              },
            ),
          ),
          allowLoopback: Type.Optional(
            Type.Boolean({ description: "serve loopback node addresses: tests and single-host demos only (default false)" }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type FleetFile = Static<typeof FleetFileSchema>;

export class FleetConfigError extends Error {
  override readonly name = "FleetConfigError";
  readonly reason = "InvalidFleetConfig";
}

export interface FleetDefinition {
  readonly name: string;
  readonly pools: ReadonlySet<string>;
}

/** Checks what the schema cannot: fleet names are unique. */
export function resolveFleets(file: FleetFile): FleetDefinition[] {
  const seen = new Set<string>();
  return file.fleets.map((f, i) => {
    if (seen.has(f.name)) throw new FleetConfigError(`fleets[${i}].name: fleet "${f.name}" is defined twice`);
    seen.add(f.name);
    return { name: f.name, pools: new Set(f.pools) };
  });
}

/** The node address policy of a fleet file (the built-in rules when it configures none); throws FleetConfigError. */
export function resolveNodeAddressPolicy(file: FleetFile): NodeAddressPolicy {
  if (!file.nodeAddresses) return NodeAddressPolicy.BUILT_IN;
  try {
    return NodeAddressPolicy.fromConfig(file.nodeAddresses);
  } catch (err) {
    if (err instanceof InvalidNodeAddressPolicyError) throw new FleetConfigError(`nodeAddresses.${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * The health check settings of every pool: the pool's own entry, else those of the fleets
 * serving it, else the file's, else TCP connect on kube-proxy's default port. A Service's
 * resources are built once and shared by every fleet serving its pool, so two fleets that
 * serve one pool must agree unless the pool has an entry of its own; throws FleetConfigError.
 */
export function resolveHealthChecks(file: FleetFile): PoolHealthChecks {
  const fileLevel: HealthCheckSettings = {
    mode: file.healthChecks ?? "tcp",
    kubeProxyPort: file.kubeProxyHealthzPort ?? KUBE_PROXY_HEALTHZ_PORT,
  };
  const served = new Set(file.fleets.flatMap((f) => f.pools));
  const byPool = new Map<string, { settings: HealthCheckSettings; fleet: string }>();
  for (const fleet of file.fleets) {
    const settings: HealthCheckSettings = {
      mode: fleet.healthChecks ?? fileLevel.mode,
      kubeProxyPort: fleet.kubeProxyHealthzPort ?? fileLevel.kubeProxyPort,
    };
    for (const pool of fleet.pools) {
      if (file.pools?.[pool]) continue;
      const other = byPool.get(pool);
      if (other && !sameSettings(other.settings, settings)) {
        throw new FleetConfigError(
          `fleets "${other.fleet}" and "${fleet.name}" both serve pool "${pool}" with different health checks ` +
            `(${describeSettings(other.settings)} vs ${describeSettings(settings)}): give the pool its own entry under pools.${pool}`,
        );
      }
      byPool.set(pool, { settings, fleet: fleet.name });
    }
  }
  const resolved = new Map([...byPool].map(([pool, v]) => [pool, v.settings]));
  for (const [pool, entry] of Object.entries(file.pools ?? {})) {
    if (!served.has(pool)) throw new FleetConfigError(`pools.${pool}: no fleet serves pool "${pool}"`);
    // Keys the entry leaves out come from the file's top level, not from a fleet: a pool may have several.
    resolved.set(pool, {
      mode: entry.healthChecks ?? fileLevel.mode,
      kubeProxyPort: entry.kubeProxyHealthzPort ?? fileLevel.kubeProxyPort,
    });
  }
  return new PoolHealthChecks(fileLevel, resolved);
}

function sameSettings(a: HealthCheckSettings, b: HealthCheckSettings): boolean {
  return a.mode === b.mode && (a.mode === "tcp" || a.kubeProxyPort === b.kubeProxyPort);
}

function describeSettings(s: HealthCheckSettings): string {
  return s.mode === "tcp" ? "tcp" : `kubeProxy on port ${s.kubeProxyPort}`;
}
