// Kubernetes harness: import from "@sharedlb/testing/kube".
export { startNats, canConnect, type TestNats, type NatsOptions } from "./servers/nats-server.js";
export { freePort, waitFor } from "./servers/ports.js";
export { startProcess, type ManagedProcess } from "./servers/process.js";
export { startRedis, type TestRedis, type RedisOptions } from "./servers/redis-server.js";
export { natsFixture, readLastValues, serviceResource, type NatsFixture, type NatsSecurity } from "./servers/fixtures.js";
export { makeTestPki, type IssuedCert, type TestPki } from "./servers/pki.js";
export { connectNatsOnce } from "./servers/nats-once.js";
export { validateEnvoyResources, type EnvoyAny } from "./envoy-validate.js";
export { startEchoServer, callEcho } from "./grpc-echo.js";
export { rng } from "./random.js";
