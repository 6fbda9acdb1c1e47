import { describe, expect, it } from "vitest";
import { certificateFleets, checkFleetIdentity, fleetUri } from "./fleet-identity.js";

describe("fleet identity from a client certificate", () => {
  it("reads the fleets a certificate's URI SANs name, ignoring DNS names and other URIs", () => {
    const san = "DNS:edge.fleet.sharedlb, URI:spiffe://sharedlb/fleet/edge, URI:spiffe://other/fleet/core, URI:spiffe://sharedlb/fleet/eu%20west";
    expect(certificateFleets(san)).toEqual(["edge", "eu west"]);
  });

  it("reads entries Node quotes because they hold a separator", () => {
    expect(certificateFleets('URI:"spiffe://sharedlb/fleet/a%2C b, DNS:x", DNS:y')).toEqual(["a, b, DNS:x"]);
  });

  it("refuses a fleet name smuggled in a deeper path or a bad escape", () => {
    expect(certificateFleets("URI:spiffe://sharedlb/fleet/edge/core, URI:spiffe://sharedlb/fleet/%E0%A4%A, URI:spiffe://sharedlb/fleet/")).toEqual([]);
  });

  it("serves a fleet the certificate names and refuses any other, naming both", () => {
    expect(checkFleetIdentity(["edge", "core"], "core")).toBeUndefined();
    const r = checkFleetIdentity(["edge"], "core");
    expect(r?.reason).toBe("FleetNotInCertificate");
    expect(r?.message).toContain('fleet "core"');
    expect(r?.message).toContain('"edge"');
    expect(r?.message).toContain("spiffe://sharedlb/fleet/core");
  });

  it("refuses a client without a verified certificate, and one whose certificate names no fleet", () => {
    expect(checkFleetIdentity(undefined, "edge")?.reason).toBe("NoClientCertificate");
    expect(checkFleetIdentity([], "edge")?.message).toContain("names no fleet");
  });

  it("round-trips fleet names through the URI", () => {
    for (const f of ["edge", "eu-west.1", "a b/c", "ü"]) expect(certificateFleets(`URI:${fleetUri(f)}`)).toEqual([f]);
  });
});
