import * as grpc from "@grpc/grpc-js";

// Stand-ins for tenant gRPC backends and their callers: raw bytes in and out, so tests need
// no generated stubs. Each backend answers every method it serves with its own label.

const raw = (b: Buffer) => b;

/** A gRPC server on `host:port` answering each of `paths` (`/pkg.Service/Method`) with `answer`. */
export async function startEchoServer(host: string, port: number, paths: readonly string[], answer: string): Promise<grpc.Server> {
  const server = new grpc.Server();
  for (const path of paths) {
    server.register<Buffer, Buffer>(
      path,
      (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(answer)),
      raw,
      raw,
      "unary",
    );
  }
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return server;
}

/** One unary call of `path` with an empty request; resolves to the answer as text. */
export function callEcho(client: grpc.Client, path: string, deadlineMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest<Buffer, Buffer>(path, raw, raw, Buffer.alloc(0), { deadline: Date.now() + deadlineMs }, (err, res) =>
      err ? reject(err) : resolve(res?.toString() ?? ""),
    ),
  );
}
