import { type Static, Type } from "@sinclair/typebox";
import { ClusterId, DottedName, Namespace } from "./primitives.js";

/** Kinds whose programming the gateway reports; `service` has no kind token in the subject. */
export const PROGRAMMED_KINDS = ["service", "ingress", "gateway", "httproute", "grpcroute", "tlsroute"] as const;
export type ProgrammedKind = (typeof PROGRAMMED_KINDS)[number];

export const Programmed = Type.Object(
  {
    cluster: ClusterId,
    namespace: Namespace,
    name: DottedName,
    kind: Type.Union(PROGRAMMED_KINDS.map((k) => Type.Literal(k))),
    allocationVersion: Type.Integer({ minimum: 0, description: "the allocation version this report is about" }),
    fleet: Type.String({ maxLength: 253 }),
    acked: Type.Integer({ minimum: 0, description: "Envoys of the fleet that applied it" }),
    nacked: Type.Integer({ minimum: 0, description: "Envoys of the fleet that rejected it" }),
    pending: Type.Optional(Type.Integer({ minimum: 0, description: "Envoys that have not answered yet" })),
    errorDetail: Type.Optional(
      Type.Object(
        {
          typeUrl: Type.String({ maxLength: 256 }),
          node: Type.String({ maxLength: 1024, description: "the Envoy node id that rejected it" }),
          message: Type.String({ maxLength: 65536, description: "Envoy's error detail, verbatim" }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, $id: "io.sharedlb.programmed.v1" },
);
export type Programmed = Static<typeof Programmed>;
