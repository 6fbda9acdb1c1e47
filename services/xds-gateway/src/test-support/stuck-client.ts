// ADS clients that never read: raw HTTP/2 sessions announcing a receive window of 0,
// so the gateway can hand gRPC their responses but never get them onto the wire.
import * as http2 from "node:http2";
import { CLUSTER_TYPE, envoy, STREAM_AGGREGATED_RESOURCES_PATH } from "@sharedlb/envoy-api";

export interface StuckClients {
  close(): void;
}

function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** Opens `sessions` × `perSession` SotW streams that ask for CDS and then never read. */
export function openStuckStreams(address: string, sessions: number, perSession: number, fleet: string): StuckClients {
  const opened: http2.ClientHttp2Session[] = [];
  for (let s = 0; s < sessions; s++) {
    const session = http2.connect(`http://${address}`, { settings: { initialWindowSize: 0 } });
    session.on("error", () => undefined);
    opened.push(session);
    for (let i = 0; i < perSession; i++) {
      const stream = session.request({
        ":method": "POST",
        ":path": STREAM_AGGREGATED_RESOURCES_PATH,
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.on("error", () => undefined);
      stream.pause();
      const request = envoy.service.discovery.v3.DiscoveryRequest.encode({
        node: { id: `stuck-${s}-${i}`, cluster: fleet },
        typeUrl: CLUSTER_TYPE,
      }).finish();
      stream.write(grpcFrame(request));
    }
  }
  return {
    close: () => {
      for (const s of opened) s.destroy();
    },
  };
}
