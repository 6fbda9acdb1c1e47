import { register as registerXds } from "@grpc/grpc-js-xds";

/**
 * Points this process's @grpc/grpc-js-xds at an ADS server (plaintext) and registers the
 * xds: resolver. grpc-js-xds reads its bootstrap once, when the first xds: channel
 * resolves, so a test file calls this once, before its first xds: client.
 */
export function useGrpcXds(serverUri: string, nodeId: string): void {
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: serverUri, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] }],
    node: { id: nodeId, cluster: "edge", locality: {} },
  });
  registerXds();
}
