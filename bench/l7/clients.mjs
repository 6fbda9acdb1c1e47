// Envoy-like ADS clients for the L7 benchmark, each on its own HTTP/2 connection: wildcard
// CDS and LDS, RDS and EDS by name (known up front: the shared IPs' route configurations
// and the benchmark's backend clusters), ACKing every response and reading only response
// heads (AdsClient.sotwHeads/deltaHeads), so hundreds fit in one process.
import { AdsClient } from "../../services/xds-gateway/dist/index.js";
import { now, sleep } from "../lib/host.mjs";

export const CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
export const LDS = "type.googleapis.com/envoy.config.listener.v3.Listener";
export const EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
export const RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
const wall = () => performance.timeOrigin + performance.now();

export function openClients({ address, protocol, clients, rds, eds = [], prefix }) {
  const logs = Array.from({ length: clients }, () => []);
  const conns = [];
  for (let i = 0; i < clients; i++) {
    const client = new AdsClient(address, { channelOptions: { "grpc.use_local_subchannel_pool": 1, "grpc.max_receive_message_length": -1 } });
    const node = { id: `${prefix}-${i}`, cluster: "edge" };
    const record = (h) => logs[i].push({ t: wall(), typeUrl: h.typeUrl, names: h.names, resources: h.resources });
    let call;
    if (protocol === "delta") {
      const edsSubscribed = new Set(eds);
      call = client.deltaHeads({
        keep: false,
        onResponse: (h) => {
          record(h);
          call.send({ typeUrl: h.typeUrl, responseNonce: h.nonce });
          // Envoy subscribes to the assignment of every cluster it receives.
          if (h.typeUrl === CDS) {
            const more = h.names.filter((n) => !edsSubscribed.has(n));
            for (const n of more) edsSubscribed.add(n);
            if (more.length > 0) call.send({ typeUrl: EDS, resourceNamesSubscribe: more });
          }
        },
      });
      call.send({ node, typeUrl: CDS });
      call.send({ typeUrl: LDS });
      call.send({ typeUrl: RDS, resourceNamesSubscribe: rds });
      if (eds.length > 0) call.send({ typeUrl: EDS, resourceNamesSubscribe: eds });
    } else {
      const namesFor = (t) => (t === RDS ? rds : t === EDS ? eds : []);
      call = client.sotwHeads({
        keep: false,
        onResponse: (h) => {
          record(h);
          call.send({ typeUrl: h.typeUrl, versionInfo: h.version, responseNonce: h.nonce, resourceNames: namesFor(h.typeUrl) });
        },
      });
      call.send({ node, typeUrl: CDS });
      call.send({ typeUrl: LDS });
      call.send({ typeUrl: RDS, resourceNames: rds });
      if (eds.length > 0) call.send({ typeUrl: EDS, resourceNames: eds });
    }
    call.status.catch(() => undefined);
    conns.push({ client, call });
  }
  return {
    count: clients,
    /** Resolves once every client got its first responses of `types` (default LDS and RDS). */
    async synced(types = [LDS, RDS], timeoutMs = 60_000) {
      const start = now();
      const has = (l) => types.every((t) => l.some((e) => e.typeUrl === t));
      while (!logs.every(has)) {
        if (now() - start > timeoutMs) throw new Error(
            `${logs.filter(has).length} of ${clients} ${protocol} clients synced within ${timeoutMs} ms (client 0 got: ${[...new Set(logs[0].map((e) => e.typeUrl.split(".").pop()))].join(", ") || "nothing"})`,
          );
        await sleep(50);
      }
    },
    mark: () => logs.map((l) => l.length),
    /** What client `i` received since `marks` (type and names), for diagnosis. */
    since: (marks, i) => logs[i].slice(marks[i]).map((e) => [e.typeUrl.split(".").pop(), e.names.slice(0, 5)]),
    /**
     * Per client, the wall time of its first response of `typeUrl` after `marks` carrying
     * `name` (delta: by name; SotW heads carry no names, and only one change is in flight,
     * so its first response of that type), or undefined after the timeout.
     */
    async waitSeen(marks, typeUrl, name, timeoutMs) {
      const find = (i) => {
        for (let k = marks[i]; k < logs[i].length; k++) {
          const e = logs[i][k];
          if (e.typeUrl === typeUrl && (protocol === "sotw" || e.names.includes(name))) return e.t;
        }
        return undefined;
      };
      const start = now();
      let seen = logs.map((_, i) => find(i));
      while (seen.some((s) => s === undefined) && now() - start < timeoutMs) {
        await sleep(10);
        seen = logs.map((_, i) => find(i));
      }
      return seen;
    },
    close() {
      for (const { client, call } of conns) {
        call.cancel();
        client.close();
      }
    },
  };
}
