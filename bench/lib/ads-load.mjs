// The load client of the ADS benchmarks (bench/xds-gateway/fanout.mjs, bench/peer): N
// streams behaving like Envoy, each on its own HTTP/2 connection, wildcard CDS and LDS,
// EDS by the names of all clusters (and RDS by the names of `routes`, when given), ACKing
// every response, reading only response heads (AdsClient.sotwHeads/deltaHeads; sotwHeads
// encodes the names an ACK repeats once, as separate Envoys would not wait on each other).
// `log[i]` holds stream i's responses as they arrive.
import { AdsClient } from "../../services/xds-gateway/dist/index.js";

export const CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
export const LDS = "type.googleapis.com/envoy.config.listener.v3.Listener";
export const EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
export const RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
const wallClock = () => performance.timeOrigin + performance.now();

export function connectStreams({ address, protocol, streams, names, routes = [], onResponse }) {
  const namesFor = (t) => (t === EDS ? names : t === RDS ? routes : []);
  const log = Array.from({ length: streams }, () => []);
  const conns = [];
  for (let i = 0; i < streams; i++) {
    const client = new AdsClient(address, {
      channelOptions: {
        "grpc.use_local_subchannel_pool": 1,
        "grpc.max_receive_message_length": -1,
        // grpc-js's 64 KiB HTTP/2 windows, not Envoy's 256 MiB: with those, 500 delta
        // first syncs outran this one process (1.8 GB buffered, its keepalive answers late)
        // and the gateway closed 22 of its connections (bench/README.md, "Load client").
      },
    });
    const node = { id: `bench-${i}`, cluster: "edge" };
    const record = (h) => {
      log[i].push({ t: wallClock(), typeUrl: h.typeUrl, bytes: h.bytes, names: h.names, resources: h.resources });
      onResponse?.();
    };
    let call;
    if (protocol === "delta") {
      call = client.deltaHeads({
        keep: false,
        onResponse: (h) => {
          record(h);
          call.send({ typeUrl: h.typeUrl, responseNonce: h.nonce });
        },
      });
      call.send({ node, typeUrl: CDS });
      call.send({ typeUrl: LDS });
      call.send({ typeUrl: EDS, resourceNamesSubscribe: names });
      if (routes.length > 0) call.send({ typeUrl: RDS, resourceNamesSubscribe: routes });
    } else {
      call = client.sotwHeads({
        keep: false,
        onResponse: (h) => {
          record(h);
          call.send({ typeUrl: h.typeUrl, versionInfo: h.version, responseNonce: h.nonce, resourceNames: namesFor(h.typeUrl) });
        },
      });
      call.send({ node, typeUrl: CDS });
      call.send({ typeUrl: LDS });
      call.send({ typeUrl: EDS, resourceNames: names });
      if (routes.length > 0) call.send({ typeUrl: RDS, resourceNames: routes });
    }
    call.status.catch(() => undefined);
    conns.push({ client, call });
  }
  return {
    log,
    close() {
      for (const { client, call } of conns) {
        call.cancel();
        client.close();
      }
    },
  };
}

/** Whether one stream's responses from `from` on hold at least `expected[type]` resources of each type. */
export function holdsAll(entries, expected, from = 0) {
  return Object.entries(expected).every(([t, n]) => {
    let got = 0;
    for (let k = from; k < entries.length; k++) if (entries[k].typeUrl === t) got += entries[k].resources;
    return got >= n;
  });
}

/**
 * Watches one stream for change `names` of `typeUrl` (after log index `from`): delta by
 * name, SotW by count — a server sending the full set or only the changed ones both reach
 * it, one splitting a burst over several responses reaches it with the last of them.
 * The returned function gives the time the stream saw it, or undefined; it reads each
 * response once, so polling it costs the load client nothing while it receives.
 */
export function changeWatch(entries, from, protocol, names, typeUrl = EDS) {
  const want = protocol === "delta" ? new Set(names) : undefined;
  let k = from;
  let got = 0;
  let at;
  return () => {
    for (; at === undefined && k < entries.length; k++) {
      const e = entries[k];
      if (e.typeUrl !== typeUrl) continue;
      if (want) {
        for (const n of e.names) want.delete(n);
        if (want.size === 0) at = e.t;
      } else {
        got += e.resources;
        if (got >= names.length) at = e.t;
      }
    }
    return at;
  };
}
