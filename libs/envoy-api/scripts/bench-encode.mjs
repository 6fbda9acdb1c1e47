#!/usr/bin/env node
// Encode cost of an EDS DiscoveryResponse: N ClusterLoadAssignments x M
// endpoints, fully encoded vs. assembled from cached per-resource bytes.
// Needs a build first (imports dist/). Usage:
//   node scripts/bench-encode.mjs [clusters=2000] [endpoints=20] [runs=20]
import {
  ENDPOINT_TYPE,
  encodeAny,
  encodeDiscoveryResponse,
  encodeMessage,
  envoy,
  toAny,
} from "../dist/index.js";

const [clusters = 2000, endpointsPer = 20, runs = 20] = process.argv.slice(2).map(Number);
const { ClusterLoadAssignment } = envoy.config.endpoint.v3;
const { DiscoveryResponse } = envoy.service.discovery.v3;

const assignments = Array.from({ length: clusters }, (_, c) => ({
  clusterName: `tenant-${c}/service-${c}`,
  endpoints: [
    {
      locality: { region: "eu-west-1", zone: `eu-west-1${"abc"[c % 3]}` },
      lbEndpoints: Array.from({ length: endpointsPer }, (_, e) => ({
        endpoint: {
          address: { socketAddress: { address: `10.${(c >> 8) & 255}.${c & 255}.${e + 1}`, portValue: 8000 + e } },
        },
        loadBalancingWeight: { value: 1 + (e % 4) },
      })),
    },
  ],
}));
const head = { versionInfo: "v42", typeUrl: ENDPOINT_TYPE, nonce: "nonce-1" };

function time(label, fn) {
  let bytes = fn(); // warm-up
  for (let i = 0; i < 3; i++) bytes = fn();
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    bytes = fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  console.log(
    `${label.padEnd(58)} median ${median.toFixed(2).padStart(7)} ms  ` +
      `min ${samples[0].toFixed(2).padStart(7)} ms  (${(bytes.length / 1024 / 1024).toFixed(2)} MiB)`,
  );
  return bytes;
}

console.log(`${clusters} ClusterLoadAssignments x ${endpointsPer} endpoints, ${runs} runs, node ${process.version}`);

const full = time("full: encode each CLA, wrap in Any, encode response", () =>
  encodeMessage(DiscoveryResponse, {
    ...head,
    resources: assignments.map((a) => toAny(ENDPOINT_TYPE, encodeMessage(ClusterLoadAssignment, a))),
  }),
);

const payloads = assignments.map((a) => encodeMessage(ClusterLoadAssignment, a));
time("cached CLA bytes, generated encoder (toAny per resource)", () =>
  encodeMessage(DiscoveryResponse, { ...head, resources: payloads.map((p) => toAny(ENDPOINT_TYPE, p)) }),
);

const anys = payloads.map((p) => encodeAny(ENDPOINT_TYPE, p));
const pre = time("cached Any bytes, encodeDiscoveryResponse()", () => encodeDiscoveryResponse(head, anys));

const decodedFull = DiscoveryResponse.decode(full);
const decodedPre = DiscoveryResponse.decode(pre);
if (
  decodedFull.resources.length !== decodedPre.resources.length ||
  full.length !== pre.length ||
  !decodedPre.resources.every((r, i) => Buffer.compare(r.value, decodedFull.resources[i].value) === 0)
) {
  throw new Error("pre-encoded response differs from the fully encoded one");
}

time("decode the response (outer + Any, not the CLAs)", () => {
  DiscoveryResponse.decode(full);
  return full;
});
