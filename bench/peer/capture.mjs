// Captures what sharedlb's gateway serves: one SotW client (wildcard LDS/CDS, EDS by the
// names of all clusters) that keeps the encoded Any of every resource. base.bin is the
// whole state; change-<k>.bin the resources that differ after change k. Each file is a
// stream of 4-byte big-endian lengths + serialized google.protobuf.Any (the format of
// peer-server and of tools/envoy-validate).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { envoy, google } from "../../libs/envoy-api/dist/index.js";
import { AdsClient } from "../../services/xds-gateway/dist/index.js";

const CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const LDS = "type.googleapis.com/envoy.config.listener.v3.Listener";
const EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const nameOf = {
  [LDS]: (b) => envoy.config.listener.v3.Listener.decode(b).name,
  [CDS]: (b) => envoy.config.cluster.v3.Cluster.decode(b).name,
  [EDS]: (b) => envoy.config.endpoint.v3.ClusterLoadAssignment.decode(b).clusterName,
};

function frame(anys) {
  const parts = [];
  for (const a of anys) {
    const bytes = google.protobuf.Any.encode(a).finish();
    const head = Buffer.alloc(4);
    head.writeUInt32BE(bytes.length);
    parts.push(head, bytes);
  }
  return Buffer.concat(parts);
}

async function until(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`capture: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function capture(world, gateway, dir) {
  const state = new Map([LDS, CDS, EDS].map((t) => [t, new Map()]));
  const names = world.fixture.clusterNames;
  const client = new AdsClient(gateway.address, { channelOptions: { "grpc.max_receive_message_length": -1 } });
  const call = client.sotw({
    keep: false,
    onResponse: (res) => {
      const held = res.typeUrl === EDS ? state.get(EDS) : new Map();
      for (const a of res.resources) held.set(nameOf[res.typeUrl](a.value), a);
      state.set(res.typeUrl, held);
      call.send({
        typeUrl: res.typeUrl,
        versionInfo: res.versionInfo,
        responseNonce: res.nonce,
        resourceNames: res.typeUrl === EDS ? names : [],
      });
    },
  });
  call.send({ node: { id: "peer-capture", cluster: "edge" }, typeUrl: CDS });
  call.send({ typeUrl: LDS });
  call.send({ typeUrl: EDS, resourceNames: names });
  await until("the first sync", () => state.get(EDS).size === names.length && state.get(LDS).size > 0 && state.get(CDS).size > 0, 300_000);
  writeFileSync(join(dir, "base.bin"), frame([...state.values()].flatMap((m) => [...m.values()])));
  const counts = Object.fromEntries([...state].map(([t, m]) => [t, m.size]));

  const changed = [];
  for (let k = 0; k < world.changes.length; k++) {
    const before = new Map([...state].map(([t, m]) => [t, new Map(m)]));
    await world.publishChange(k);
    const differs = (t, n) => {
      const was = before.get(t).get(n)?.value;
      const is = state.get(t).get(n)?.value;
      return !was || !is || !Buffer.from(was).equals(Buffer.from(is));
    };
    await until(`change ${k}`, () => world.changes[k].expect.every((n) => differs(EDS, n)), 60_000);
    const diff = [...state].flatMap(([t, m]) => [...m].filter(([n]) => differs(t, n)).map(([, a]) => a));
    writeFileSync(join(dir, `change-${k}.bin`), frame(diff));
    changed.push(diff.length);
  }
  call.cancel();
  client.close();
  return { counts, changed };
}
