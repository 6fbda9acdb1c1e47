import { type Static, Type } from "@sinclair/typebox";

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
