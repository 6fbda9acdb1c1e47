// Test data: the plan of a Service with a TCP, a UDP and a gRPC port on two nodes.
import { allocation, endpoints, node, service } from "@sharedlb/testing/resources";
import { readyEndpoints } from "../node-selection.js";
import { type HealthCheckMode, KUBE_PROXY_HEALTHZ_PORT, planService, type ServicePlan } from "../plan.js";

export function webPlan(
  over: Parameters<typeof service>[3] = {},
  ip = "203.0.113.10",
  healthChecks: HealthCheckMode = "tcp",
  localNodes?: string[],
  ips?: string[],
): ServicePlan {
  const svc = service("a", "shop", "web", {
    ports: [
      { name: "https", protocol: "TCP", port: 443, nodePort: 31443 },
      { name: "dns", protocol: "UDP", port: 53, nodePort: 31053 },
      { name: "grpc", protocol: "TCP", port: 50051, nodePort: 30051, appProtocol: "grpc" },
    ],
    ...over,
  });
  const ready = readyEndpoints([node("a", "w2", "10.0.0.2"), node("a", "w1", "10.0.0.1")]);
  const p = planService({
    key: "a/shop/web",
    service: svc,
    allocation: allocation(svc, ip, ips ? { ips } : {}),
    ready,
    endpoints: localNodes ? endpoints("a", "shop", "web", localNodes) : undefined,
    healthChecks: { mode: healthChecks, kubeProxyPort: KUBE_PROXY_HEALTHZ_PORT },
  });
  if (!p) throw new Error("no plan");
  return p;
}
