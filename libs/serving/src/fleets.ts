import { type Static, Type } from "@sinclair/typebox";
import { InvalidNodeAddressPolicyError, NodeAddressPolicy } from "./address-policy.js";

const CidrText = Type.String({ minLength: 1, maxLength: 49, description: "an IP range such as 10.0.0.0/8 or fd00::/8" });

/** The fleet file (`--config`): which pools each Envoy fleet serves. */
export const FleetFileSchema = Type.Object(
  {
    fleets: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 253, description: "matched against the Envoy node's `cluster`" }),
          pools: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { minItems: 1 }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    healthChecks: Type.Optional(
      Type.Union([Type.Literal("tcp"), Type.Literal("kubeProxy")], {
        description:
          "tcp (default): TCP connect to the NodePort; kubeProxy: HTTP /healthz on healthCheckNodePort (Local) or kube-proxy's :10256",
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
