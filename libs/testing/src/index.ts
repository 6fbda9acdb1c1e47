// Kubernetes harness: import from "@sharedlb/testing/kube".
export * from "./servers/index.js";
export * from "./envoy-validate.js";
export * from "./grpc-echo.js";
export * from "./random.js";
