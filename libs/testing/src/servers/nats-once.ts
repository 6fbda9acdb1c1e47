import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { type NatsSecurity, natsConnectSettings } from "@sharedlb/runtime";

/**
 * One connection attempt, no retries (the services' connectNats retries forever, as a daemon
 * should): for tests that expect a refusal. TLS is always requested.
 */
export function connectNatsOnce(url: string, security: NatsSecurity): Promise<NatsConnection> {
  const s = natsConnectSettings(url, security);
  return connect({
    servers: s.servers,
    maxReconnectAttempts: 0,
    tls: s.tls ?? {},
    ...(s.authenticator ? { authenticator: s.authenticator } : {}),
    ...(s.inboxPrefix ? { inboxPrefix: s.inboxPrefix } : {}),
  });
}
