// The validator itself, on hand-made resources: it must reject what Envoy rejects (so the
// gateway-wide check in services/xds-gateway can fail) and accept what Envoy accepts.
import { envoy, packAny } from "@sharedlb/envoy-api";
import { describe, expect, it } from "vitest";
import { validateEnvoyResources } from "./envoy-validate.js";

const { Listener } = envoy.config.listener.v3;
const { Cluster } = envoy.config.cluster.v3;
const { TcpProxy } = envoy.extensions.filters.network.tcp_proxy.v3;
const LISTENER_URL = "type.googleapis.com/envoy.config.listener.v3.Listener";

function tcpListener(port: number, cluster: string): envoy.config.listener.v3.Listener.$Properties {
  return {
    name: `tcp-${port}`,
    address: { socketAddress: { address: "203.0.113.10", portValue: port } },
    filterChains: [
      { filters: [{ name: "envoy.filters.network.tcp_proxy", typedConfig: packAny(TcpProxy, { statPrefix: "t", cluster }) }] },
    ],
  };
}

describe("envoy-validate (go-control-plane's ValidateAll on every resource and nested Any)", () => {
  it("accepts valid resources", async () => {
    const valid = [
      packAny(Listener, tcpListener(443, "a/shop/web/tcp-443")),
      packAny(Cluster, { name: "a/shop/web/tcp-443", connectTimeout: { seconds: 5 }, type: Cluster.DiscoveryType.EDS }),
    ];
    expect(await validateEnvoyResources(valid)).toEqual([]);
  });

  it("rejects a listener port above 65535 and a cluster with a negative connect timeout, naming the field", async () => {
    const violations = await validateEnvoyResources([
      packAny(Listener, tcpListener(70000, "c")),
      packAny(Cluster, { name: "c", connectTimeout: { seconds: -1 } }),
    ]);
    expect(violations).toEqual([
      expect.objectContaining({ index: 0, typeUrl: LISTENER_URL, name: "tcp-70000", field: "address.socket_address.port_value" }),
      expect.objectContaining({ index: 1, name: "c", field: "connect_timeout" }),
    ]);
    expect(violations[0]?.message).toMatch(/65535/);
  });

  it("validates inside nested Anys and reports the path through them", async () => {
    // TcpProxy requires a non-empty stat_prefix; the Listener's own rules cannot see it.
    const nested = tcpListener(443, "c");
    const chain = nested.filterChains?.[0];
    if (chain) chain.filters = [{ name: "envoy.filters.network.tcp_proxy", typedConfig: packAny(TcpProxy, { cluster: "c" }) }];
    const violations = await validateEnvoyResources([packAny(Listener, nested)]);
    expect(violations.map((v) => v.field)).toEqual([
      "filter_chains[0].filters[0].typed_config(envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy).stat_prefix",
    ]);
  });

  it("reports an Any of an unknown type and bytes that are not the named type", async () => {
    const violations = await validateEnvoyResources([
      { type_url: "type.googleapis.com/not.a.Type", value: new Uint8Array() },
      { type_url: LISTENER_URL, value: Uint8Array.from([0xff, 0xff, 0xff]) },
    ]);
    expect(violations.map((v) => [v.index, v.message])).toEqual([
      [0, expect.stringMatching(/unknown type "type.googleapis.com\/not.a.Type"/)],
      [1, expect.stringMatching(/cannot decode/)],
    ]);
  });
});
