/**
 * Which fleets an ADS client may ask for, from its TLS client certificate.
 *
 * The rule: a certificate issued by the fleet CA names each fleet it may serve as a URI
 * SAN `spiffe://sharedlb/fleet/<fleet>` (the fleet name percent-encoded as a URI path
 * segment). A stream is served only if its `node.cluster` is one of them. The common name
 * and DNS names are never consulted: CN parsing is how such checks go wrong, and DNS names
 * say where a host is, not what it may read.
 */

export const FLEET_URI_PREFIX = "spiffe://sharedlb/fleet/";

/** The URI SAN that authorizes `fleet`. */
export function fleetUri(fleet: string): string {
  return `${FLEET_URI_PREFIX}${encodeURIComponent(fleet)}`;
}

/** Why a stream is refused; stable, used in metrics, events and logs. */
export type RefusalReason = "NoClientCertificate" | "FleetNotInCertificate";

export interface Refusal {
  readonly reason: RefusalReason;
  readonly message: string;
}

/**
 * The fleets a verified certificate names, from Node's `subjectaltname` string
 * (`DNS:a, URI:spiffe://…`; Node quotes entries holding separators as JSON strings).
 */
export function certificateFleets(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  const fleets: string[] = [];
  for (const m of subjectAltName.matchAll(/(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    if (m[1] !== "URI") continue;
    const raw = m[2] ?? "";
    const value = raw.startsWith('"') ? unquote(raw) : raw;
    if (value === undefined || !value.startsWith(FLEET_URI_PREFIX)) continue;
    const fleet = decodeSegment(value.slice(FLEET_URI_PREFIX.length));
    if (fleet !== undefined && fleet !== "") fleets.push(fleet);
  }
  return fleets;
}

/**
 * Whether a client may read `fleet`. `presented` is undefined when the client showed no
 * certificate that chains to the fleet CA.
 */
export function checkFleetIdentity(presented: readonly string[] | undefined, fleet: string): Refusal | undefined {
  if (presented === undefined) return NO_CERTIFICATE;
  if (presented.includes(fleet)) return undefined;
  const named = presented.length > 0 ? `it names fleet(s) ${presented.map((f) => JSON.stringify(f)).join(", ")}` : "it names no fleet";
  return {
    reason: "FleetNotInCertificate",
    message: `the client certificate does not authorize fleet ${JSON.stringify(fleet)} (node.cluster): ${named}; expected URI SAN ${fleetUri(fleet)}`,
  };
}

export const NO_CERTIFICATE: Refusal = {
  reason: "NoClientCertificate",
  message: "ADS requires a client certificate issued by the fleet CA (none was presented, or it did not verify)",
};

function unquote(quoted: string): string | undefined {
  try {
    const v: unknown = JSON.parse(quoted);
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

function decodeSegment(segment: string): string | undefined {
  if (segment.includes("/")) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
