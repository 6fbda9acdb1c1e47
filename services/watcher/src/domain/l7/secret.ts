import type { V1Ingress } from "@kubernetes/client-node";
import type { SealedKey, SecretResource } from "@sharedlb/contracts";
import { readTlsKeyPair } from "./certificate.js";
import type { Gateway } from "./gateway-api.js";
import { resolveCertificateRef, servedGateway } from "./gateway.js";
import { servedIngress } from "./ingress.js";
import type { L7View } from "./view.js";

/** Seals a private key to the gateways' key; `context` binds it to its Secret. */
export type Sealer = (plaintext: Uint8Array, context: { namespace: string; name: string }) => SealedKey;

/**
 * `namespace/name` of every Secret a served Gateway listener (Terminate) or Ingress may
 * use: the same namespace or granted. Only these are ever published.
 */
export function referencedSecrets(view: L7View, gateways: readonly Gateway[], ingresses: readonly V1Ingress[]): Set<string> {
  const out = new Set<string>();
  for (const gw of gateways) {
    if (!servedGateway(view, gw)) continue;
    const ns = gw.metadata?.namespace ?? "";
    for (const l of gw.spec?.listeners ?? []) {
      if ((l.protocol !== "HTTPS" && l.protocol !== "TLS") || l.tls?.mode === "Passthrough") continue;
      for (const ref of l.tls?.certificateRefs ?? []) {
        const r = resolveCertificateRef(view, ns, ref, "", { checkSecret: false });
        if ("ref" in r) out.add(`${r.ref.namespace}/${r.ref.name}`);
      }
    }
  }
  for (const ing of ingresses) {
    if (!servedIngress(view, ing)) continue;
    for (const t of ing.spec?.tls ?? []) if (t.secretName) out.add(`${ing.metadata?.namespace ?? ""}/${t.secretName}`);
  }
  return out;
}

/**
 * A referenced, valid TLS Secret with its private key sealed; undefined when it is not
 * referenced, missing or not servable (the referencing objects refuse it themselves).
 */
export function normalizeSecret(view: L7View, namespace: string, name: string, referenced: ReadonlySet<string>, seal: Sealer): SecretResource | undefined {
  if (!referenced.has(`${namespace}/${name}`)) return undefined;
  const secret = view.secret(namespace, name);
  if (!secret) return undefined;
  const pair = readTlsKeyPair(secret, view.now);
  if ("problem" in pair) return undefined;
  return {
    cluster: view.cluster,
    namespace,
    name,
    uid: secret.metadata?.uid ?? "",
    certificateChainPem: pair.certificateChainPem,
    notAfter: pair.notAfter,
    dnsNames: pair.dnsNames,
    privateKey: seal(pair.privateKeyPem, { namespace, name }),
  };
}
