import { KubeConfig } from "@kubernetes/client-node";

type RequestContext = Parameters<KubeConfig["applySecurityAuthentication"]>[0];
type Dispatcher = NonNullable<ReturnType<RequestContext["getDispatcher"]>>;

/**
 * client-node 2.0 builds a new undici Agent for every request, so every API call opens a
 * new TLS connection: measured here, a status patch costs 7 ms instead of 2 ms, and
 * concurrent writes top out near 370/s instead of 1,000+/s. This KubeConfig hands every
 * request the same Agent, which keeps connections alive and reuses them.
 *
 * The Agent is keyed by the current cluster and user: TLS material that changes without
 * either changing (an exec plugin rotating client certificates) is not picked up until
 * the process restarts. Bearer tokens are headers, not TLS, so projected service-account
 * token rotation is unaffected.
 */
export class PooledKubeConfig extends KubeConfig {
  private shared: { key: string; dispatcher: Dispatcher } | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return;
    const key = `${this.getCurrentCluster()?.name ?? ""}\u0000${this.getCurrentUser()?.name ?? ""}`;
    if (this.shared?.key !== key) {
      void this.shared?.dispatcher.close().catch(() => undefined);
      this.shared = { key, dispatcher: fresh };
    } else {
      // The fresh Agent never connected (undici connects lazily): dropping it costs nothing.
      void fresh.close().catch(() => undefined);
    }
    context.setDispatcher(this.shared.dispatcher);
  }
}
