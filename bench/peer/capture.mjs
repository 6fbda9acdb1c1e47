// Captures what sharedlb's gateway serves: one SotW client (wildcard LDS/CDS, EDS and RDS
// by the names the world's load subscribes to) that keeps the encoded Any of every
// resource. base.bin is the whole state; change-<k>.bin the resources that differ after
// change k. Each file is a stream of 4-byte big-endian lengths + serialized
// google.protobuf.Any (the format of peer-server and of tools/envoy-validate).
// It also records what the gateway's SotW responses carried for each change, so the
// benchmark can say whether SotW sent only the changed resources.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { envoy, google } from "../../libs/envoy-api/dist/index.js";
import { AdsClient } from "../../services/xds-gateway/dist/index.js";
import { CDS, EDS, LDS, RDS } from "../lib/ads-load.mjs";

const nameOf = {
  [LDS]: (b) => envoy.config.listener.v3.Listener.decode(b).name,
  [CDS]: (b) => envoy.config.cluster.v3.Cluster.decode(b).name,
  [EDS]: (b) => envoy.config.endpoint.v3.ClusterLoadAssignment.decode(b).clusterName,
  [RDS]: (b) => envoy.config.route.v3.RouteConfiguration.decode(b).name,
};
// Types whose SotW response is the complete set (xDS: Listener and Cluster); the others
// may carry only some of the subscribed resources.
const COMPLETE = new Set([LDS, CDS]);
const SETTLE_MS = 1_000;

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
  const types = [LDS, CDS, ...Object.keys(world.subscribe)];
  const state = new Map(types.map((t) => [t, new Map()]));
  const subscribed = (t) => world.subscribe[t] ?? [];
  /** Per response: its type and the names it carried. */
  const responses = [];
  const client = new AdsClient(gateway.address, { channelOptions: { "grpc.max_receive_message_length": -1 } });
  const call = client.sotw({
    keep: false,
    onResponse: (res) => {
      const held = COMPLETE.has(res.typeUrl) ? new Map() : state.get(res.typeUrl);
      const names = [];
      for (const a of res.resources) {
        const name = nameOf[res.typeUrl](a.value);
        held.set(name, a);
        names.push(name);
      }
      state.set(res.typeUrl, held);
      responses.push({ t: Date.now(), typeUrl: res.typeUrl, names });
      call.send({ typeUrl: res.typeUrl, versionInfo: res.versionInfo, responseNonce: res.nonce, resourceNames: subscribed(res.typeUrl) });
    },
  });
  call.send({ node: { id: "peer-capture", cluster: "edge" }, typeUrl: CDS });
  call.send({ typeUrl: LDS });
  for (const [t, names] of Object.entries(world.subscribe)) call.send({ typeUrl: t, resourceNames: names });
  const synced = () =>
    state.get(LDS).size > 0 && state.get(CDS).size > 0 && Object.entries(world.subscribe).every(([t, n]) => state.get(t).size === n.length);
  await until("the first sync", synced, 300_000);
  const settled = () => Date.now() - (responses.at(-1)?.t ?? 0) >= SETTLE_MS;
  await until("the first sync to settle", settled, 60_000);
  const base = new Map([...state].map(([t, m]) => [t, new Map(m)]));
  writeFileSync(join(dir, "base.bin"), frame([...state.values()].flatMap((m) => [...m.values()])));
  const counts = Object.fromEntries([...state].map(([t, m]) => [t, m.size]));

  const changed = [];
  const sotwSent = [];
  for (let k = 0; k < world.changes.length; k++) {
    const before = new Map([...state].map(([t, m]) => [t, new Map(m)]));
    const mark = responses.length;
    const { typeUrl, expect } = world.changes[k];
    await world.publishChange(k);
    const changedNow = (t, n) => differs(before, state, t, n);
    await until(`change ${k}`, () => expect.every((n) => changedNow(typeUrl, n)), 60_000);
    // A burst may reach the gateway over several responses: the final state is the one to serve.
    await until(`change ${k} to settle`, settled, 60_000);
    const diff = [...state].flatMap(([t, m]) => [...m].filter(([n]) => changedNow(t, n)).map(([, a]) => a));
    writeFileSync(join(dir, `change-${k}.bin`), frame(diff));
    changed.push(diff.length);
    const of = responses.slice(mark).filter((r) => r.typeUrl === typeUrl);
    sotwSent.push({
      responses: of.length,
      resources: of.reduce((a, r) => a + r.names.length, 0),
      distinct: new Set(of.flatMap((r) => r.names)).size,
      changed: [...state.get(typeUrl).keys()].filter((n) => changedNow(typeUrl, n)).length,
    });
  }
  // Each pair of changes returns to the base state; a difference would make the peers'
  // captures disagree with what a restarted gateway serves.
  const drift = [...state].flatMap(([t, m]) => [...m.keys()].filter((n) => differs(base, state, t, n)));
  if (drift.length > 0)
    throw new Error(`capture: ${drift.length} resources differ from the base state after all changes (${drift.slice(0, 3).join(", ")})`);
  call.cancel();
  client.close();
  return { counts, changed, sotwSent };
}

/** Whether resource `n` of type `t` is absent from either state or encoded differently. */
function differs(from, to, t, n) {
  const was = from.get(t).get(n)?.value;
  const is = to.get(t).get(n)?.value;
  return !was || !is || !Buffer.from(was).equals(Buffer.from(is));
}
