import { setFlagsFromString } from "node:v8";

/**
 * Makes buffers count towards V8's heap limits as a whole instead of setting off a full
 * collection every 64 MB of them. Every SotW ACK is a 300-400 KB buffer (an Envoy repeats
 * its whole EDS list), so 100 Envoys ACKing one node flap set off a full collection of the
 * resource heap: 50-150 ms of the one thread that writes to every Envoy
 * (bench/results/xds-gateway.md, "Node flap: where the gateway's time went"). Read by V8
 * at each collection, so setting it once at start is enough.
 */
export function tuneHeapForBuffers(): void {
  setFlagsFromString("--external-memory-accounted-in-global-limit");
}
