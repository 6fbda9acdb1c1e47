import { isResourceTypeUrl, type ResourceTypeUrl } from "@sharedlb/envoy-api";
import type { DeltaWireRequest } from "./delta-wire.js";
import type { DeltaRequest } from "./delta-session.js";
import type { ErrorDetail } from "./protocol.js";
import type { SotwRequest } from "./sotw-session.js";
import { MalformedMessage, type SotwWireRequest } from "./sotw-wire.js";

/** A DiscoveryRequest the gateway will not serve; the stream ends with INVALID_ARGUMENT. */
export class InvalidRequest extends Error {
  override readonly name = "InvalidRequest";
  constructor(
    readonly reason: "MissingNode" | "UnsupportedTypeUrl" | "MalformedMessage",
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

interface AnyRequest {
  readonly typeUrl: string;
  readonly node?: { readonly id?: string | null; readonly cluster?: string | null } | null;
  readonly errorDetail?: { readonly code?: number | null; readonly message?: string | null } | null;
}

function common(
  req: AnyRequest,
  first: boolean,
): { typeUrl: ResourceTypeUrl; node: ClientNode | undefined; errorDetail: ErrorDetail | undefined } {
  const typeUrl = req.typeUrl;
  if (!isResourceTypeUrl(typeUrl)) {
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
  return { typeUrl, node, errorDetail: err ? { code: err.code ?? 0, message: err.message ?? "" } : undefined };
}

function wellFormed<T>(req: T | MalformedMessage, what: string): T {
  if (req instanceof MalformedMessage) throw new InvalidRequest("MalformedMessage", `malformed ${what}: ${req.problem}`);
  return req;
}

export function parseSotwRequest(raw: SotwWireRequest | MalformedMessage, first: boolean): SotwRequest & { node: ClientNode | undefined } {
  const req = wellFormed(raw, "DiscoveryRequest");
  const { typeUrl, node, errorDetail } = common(req, first);
  return {
    node,
    typeUrl,
    versionInfo: req.versionInfo,
    resourceNames: req.resourceNames,
    responseNonce: req.responseNonce,
    errorDetail,
  };
}

export function parseDeltaRequest(
  raw: DeltaWireRequest | MalformedMessage,
  first: boolean,
): DeltaRequest & { node: ClientNode | undefined } {
  const req = wellFormed(raw, "DeltaDiscoveryRequest");
  const { typeUrl, node, errorDetail } = common(req, first);
  return {
    node,
    typeUrl,
    subscribe: req.resourceNamesSubscribe ?? [],
    unsubscribe: req.resourceNamesUnsubscribe ?? [],
    initialVersions: req.initialVersions,
    responseNonce: req.responseNonce ?? "",
    errorDetail,
  };
}
