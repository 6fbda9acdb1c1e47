import { type Static, Type } from "@sinclair/typebox";
import { ClusterId, DNS_SUBDOMAIN, DottedName, Namespace, Port } from "./primitives.js";

/** Kinds whose programming the gateway reports; `service` has no kind token in the subject. */
export const PROGRAMMED_KINDS = ["service", "ingress", "gateway", "httproute", "grpcroute", "tlsroute"] as const;
export type ProgrammedKind = (typeof PROGRAMMED_KINDS)[number];

/**
 * Why part of an object is not served, as the tenant should be told (v1 addition). Stable
 * CamelCase reasons; consumers ignore reasons they do not know.
 * - `AddressRefused`: the tenant Node named by `node` is never an upstream, because of its
 *   address (loopback, link-local, outside the cluster's allowed ranges, …).
 * - `UDPSourceRangesUnsupported`: the UDP ports named by `ports` are not served, because
 *   the Service has loadBalancerSourceRanges and the gateway cannot enforce them for UDP.
 */
export const PROGRAMMED_WARNING_REASONS = ["AddressRefused", "UDPSourceRangesUnsupported"] as const;
export type ProgrammedWarningReason = (typeof PROGRAMMED_WARNING_REASONS)[number];

/** At most this many warnings per report; the last one then says how many were left out. */
export const MAX_PROGRAMMED_WARNINGS = 32;

export const ProgrammedWarning = Type.Object(
  {
    reason: Type.String({ pattern: "^[A-Z][A-Za-z0-9]*$", maxLength: 64, description: "CamelCase, stable" }),
    message: Type.String({ maxLength: 1024, description: "one sentence for the tenant; names nothing of another tenant" }),
    node: Type.Optional(Type.String({ pattern: DNS_SUBDOMAIN, maxLength: 253, description: "the tenant Node it is about" })),
    ports: Type.Optional(
      Type.Array(
        Type.Object(
          { protocol: Type.String({ maxLength: 8 }), port: Port },
          { additionalProperties: false },
        ),
        { maxItems: 256, description: "the Service ports (spec.ports[].port) it is about" },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ProgrammedWarning = Static<typeof ProgrammedWarning>;

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
    warnings: Type.Optional(
      Type.Array(ProgrammedWarning, {
        maxItems: MAX_PROGRAMMED_WARNINGS,
        description: "parts of the object not served and why (refused nodes, UDP ports under source ranges); absent: none",
      }),
    ),
  },
  { additionalProperties: false, $id: "io.sharedlb.programmed.v1" },
);
export type Programmed = Static<typeof Programmed>;
