import type { Logger } from "@sharedlb/runtime";
import { ADDRESS_REFUSAL_REASONS, TenantView, type TenantViewOptions } from "@sharedlb/serving";
import type { GatewayMetrics } from "../metrics.js";

/**
 * The gateway's TenantView, with what it reports wired to logs and metrics: node addresses
 * the policy refuses (logged once per change, gauged by reason) and deletions that name
 * another incarnation of a Service than the one held (ignored, counted, logged).
 */
export function reportingTenantView(
  options: Pick<TenantViewOptions, "addressPolicy" | "healthChecks">,
  metrics: Pick<GatewayMetrics, "refusedNodes" | "staleIncarnations">,
  log: Logger,
): TenantView {
  const view: TenantView = new TenantView({
    ...options,
    observer: {
      nodeRefusalChanged: (c) => {
        const at = { cluster: c.cluster, node: c.node, address: c.address };
        if (c.refusal) log.warn({ ...at, reason: c.refusal.reason }, `tenant node not served: ${c.refusal.message}`);
        else log.info({ ...at, deleted: c.deleted }, c.deleted ? "refused tenant node deleted" : "tenant node address no longer refused");
        const counts = view.refusedNodeCounts();
        for (const reason of ADDRESS_REFUSAL_REASONS) metrics.refusedNodes.set({ reason }, counts.get(reason) ?? 0);
      },
      staleIncarnation: (e) => {
        metrics.staleIncarnations.inc();
        log.warn(e, "deletion of an earlier object with the same name ignored");
      },
    },
  });
  return view;
}
