import { type DeltaDiscoveryRequest, type DiscoveryRequest, isResourceTypeUrl } from "@sharedlb/envoy-api";
import type { DeltaRequest } from "./delta-session.js";
import type { ErrorDetail } from "./protocol.js";
import type { SotwRequest } from "./sotw-session.js";

/** A DiscoveryRequest the gateway will not serve; the stream ends with INVALID_ARGUMENT. */
export class InvalidRequest extends Error {
  override readonly name = "InvalidRequest";
  constructor(
    readonly reason: "MissingNode" | "UnsupportedTypeUrl",
    message: string,
  ) {
    super(message);
  }
}

/** Who is on the other end of a stream, from the first request's node. */
export interface ClientNode {
  readonly id: string;
  /** Names the fleet. */
  readonly cluster: string;
}

type AnyRequest = Pick<DiscoveryRequest, "node" | "typeUrl" | "responseNonce" | "errorDetail">;

function common(req: AnyRequest, first: boolean): { node: ClientNode | undefined; errorDetail: ErrorDetail | undefined } {
  if (!isResourceTypeUrl(req.typeUrl)) {
    throw new InvalidRequest(
      "UnsupportedTypeUrl",
      `type_url "${req.typeUrl}" is not served (Listener, Cluster, ClusterLoadAssignment and RouteConfiguration are)`,
    );
  }
  let node: ClientNode | undefined;
  if (req.node) node = { id: req.node.id ?? "", cluster: req.node.cluster ?? "" };
  else if (first)
    throw new InvalidRequest("MissingNode", "the first DiscoveryRequest of a stream must carry node (its cluster names the fleet)");
  const err = req.errorDetail;
  return { node, errorDetail: err ? { code: err.code ?? 0, message: err.message ?? "" } : undefined };
}

export function parseSotwRequest(req: DiscoveryRequest, first: boolean): SotwRequest & { node: ClientNode | undefined } {
  const { node, errorDetail } = common(req, first);
  return {
    node,
    typeUrl: req.typeUrl as SotwRequest["typeUrl"],
    versionInfo: req.versionInfo ?? "",
    resourceNames: req.resourceNames ?? [],
    responseNonce: req.responseNonce ?? "",
    errorDetail,
  };
}

export function parseDeltaRequest(req: DeltaDiscoveryRequest, first: boolean): DeltaRequest & { node: ClientNode | undefined } {
  const { node, errorDetail } = common(req, first);
  return {
    node,
    typeUrl: req.typeUrl as DeltaRequest["typeUrl"],
    subscribe: req.resourceNamesSubscribe ?? [],
    unsubscribe: req.resourceNamesUnsubscribe ?? [],
    initialVersions: new Map(Object.entries(req.initialResourceVersions ?? {})),
    responseNonce: req.responseNonce ?? "",
    errorDetail,
  };
}
