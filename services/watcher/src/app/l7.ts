import type { V1Service } from "@kubernetes/client-node";
import {
  type GatewayResource,
  type RouteResource,
  type SecretResource,
  sealedKeyContext,
  sealPrivateKey,
  sealingKeyId,
  validateData,
} from "@sharedlb/contracts";
import { apiStatusCode } from "@sharedlb/kube";
import { describeError, type Logger } from "@sharedlb/runtime";
import type { KeyObject } from "node:crypto";
import { type DesiredGateway, type DesiredResource, type DesiredRoute, fingerprint, type PublishedEntry } from "../domain/desired.js";
import { shortHash } from "../domain/fingerprint.js";
import { type L7Kind, type ResourceRef, refKey } from "../domain/keys.js";
import {
  COMPANION_LABEL,
  COMPANION_PREFIX,
  type CompanionNeed,
  companionObject,
  companionUpToDate,
  desiredCompanions,
  isCompanion,
} from "../domain/l7/companions.js";
import { ingressNamesService, routeNamesService } from "../domain/l7/dependencies.js";
import { normalizeGateway } from "../domain/l7/gateway.js";
import { normalizeIngress } from "../domain/l7/ingress.js";
import { type GatewayRouteKind, type NormalizedRoute, normalizeGatewayRoute } from "../domain/l7/routes.js";
import { readCertificateChain } from "../domain/l7/certificate.js";
import { normalizeSecret, referencedSecrets, type Sealer } from "../domain/l7/secret.js";
import type { L7View } from "../domain/l7/view.js";
import type { CompanionStore, L7Objects } from "./ports.js";

/** The work-queue key of the companion pass (not a resource subject). */
export const COMPANIONS_KEY = "companions";

const ROUTE_KINDS: Record<"httproute" | "grpcroute" | "tlsroute", GatewayRouteKind> = {
  httproute: "HTTPRoute",
  grpcroute: "GRPCRoute",
  tlsroute: "TLSRoute",
};

export interface L7Options {
  cluster: string;
  objects: L7Objects;
  /** Services as the watcher's Service informer holds them (backends and companions). */
  services: { service(namespace: string, name: string): V1Service | undefined; listServices(): readonly V1Service[] };
  companions: CompanionStore;
  /** The gateways' X25519 public key; without it no Secret is published. */
  sealingKey: KeyObject | undefined;
  log: Logger;
  now?: () => Date;
}

/**
 * The L7 half of the watcher: the desired state of Ingresses, Gateways, routes and TLS
 * Secrets from the caches, which keys a change touches, and the companion Services.
 */
export class L7Publisher {
  private readonly objects: L7Objects;
  /** A sealed key per Secret version, so re-normalizing the same Secret yields the same event. */
  private readonly sealed = new Map<string, { version: string; sealed: ReturnType<Sealer> }>();
  private readonly keyId: string | undefined;
  /** What each served route needs of companions, as last normalized: a change calls for a companion pass. */
  private readonly companionNeeds = new Map<string, string>();
  private companionsDirty = false;

  constructor(private readonly opts: L7Options) {
    this.objects = opts.objects;
    this.keyId = opts.sealingKey && sealingKeyId(opts.sealingKey);
  }

  view(): L7View {
    const o = this.objects;
    return {
      cluster: this.opts.cluster,
      now: (this.opts.now ?? (() => new Date()))(),
      gatewayClass: (n) => o.gatewayClass(n),
      gateway: (ns, n) => o.gateway(ns, n),
      ingressClass: (n) => o.ingressClass(n),
      listIngressClasses: () => o.listIngressClasses(),
      namespaces: () => o.namespaces(),
      namespace: (n) => o.namespace(n),
      referenceGrants: (ns) => o.referenceGrants(ns),
      service: (ns, n) => this.opts.services.service(ns, n),
      secret: (ns, n) => o.secret(ns, n),
    };
  }

  /** `published`: what the stream holds for the key, so a Secret sealed before a restart is not sealed anew. */
  desired(ref: ResourceRef & { kind: L7Kind }, published?: PublishedEntry): DesiredResource | undefined {
    const view = this.view();
    switch (ref.kind) {
      case "gateway": {
        const gw = this.objects.gateway(ref.namespace, ref.name);
        const data = normalizeGateway(view, gw);
        return data && versioned({ type: "io.sharedlb.gateway.v1", data }, gw?.metadata?.resourceVersion);
      }
      case "ingress": {
        const ing = this.objects.ingress(ref.namespace, ref.name);
        const r = normalizeIngress(view, ing);
        this.noteCompanions(refKey(ref), r);
        return r && versioned({ type: "io.sharedlb.route.v1", data: r.data }, ing?.metadata?.resourceVersion);
      }
      case "httproute":
      case "grpcroute":
      case "tlsroute": {
        const kind = ROUTE_KINDS[ref.kind];
        const route = this.objects.route(kind, ref.namespace, ref.name);
        const r = normalizeGatewayRoute(view, kind, route);
        this.noteCompanions(refKey(ref), r);
        return r && versioned({ type: "io.sharedlb.route.v1", data: r.data }, route?.metadata?.resourceVersion);
      }
      case "secret":
        return this.desiredSecret(view, ref.namespace, ref.name, published);
    }
  }

  /** True (once) when some route's companion needs changed since the last call. */
  takeCompanionsDirty(): boolean {
    const dirty = this.companionsDirty;
    this.companionsDirty = false;
    return dirty;
  }

  private noteCompanions(key: string, route: NormalizedRoute | undefined): void {
    const sig = route?.companions.length ? JSON.stringify(route.companions) : undefined;
    if (this.companionNeeds.get(key) === sig) return;
    this.companionsDirty = true;
    if (sig === undefined) this.companionNeeds.delete(key);
    else this.companionNeeds.set(key, sig);
  }

  /** Every L7 key the caches know of. */
  allKeys(): string[] {
    const keys: string[] = [];
    const add = (kind: L7Kind, o: { metadata?: { namespace?: string; name?: string } }) =>
      keys.push(refKey({ kind, namespace: o.metadata?.namespace ?? "", name: o.metadata?.name ?? "" }));
    for (const i of this.objects.listIngresses()) add("ingress", i);
    for (const g of this.objects.listGateways()) add("gateway", g);
    for (const [k, kind] of Object.entries(ROUTE_KINDS) as [L7Kind, GatewayRouteKind][]) for (const r of this.objects.listRoutes(kind)) add(k, r);
    keys.push(...this.secretKeys());
    return keys;
  }

  secretKeys(): string[] {
    return this.objects.listSecrets().map((s) => refKey({ kind: "secret", namespace: s.metadata?.namespace ?? "", name: s.metadata?.name ?? "" }));
  }

  /** Keys of the objects whose certificate refusals follow a Secret: Gateways and Ingresses. */
  certificateHolderKeys(): string[] {
    const keys = this.objects.listGateways().map((g) => refKey({ kind: "gateway", namespace: g.metadata?.namespace ?? "", name: g.metadata?.name ?? "" }));
    for (const i of this.objects.listIngresses()) keys.push(refKey({ kind: "ingress", namespace: i.metadata?.namespace ?? "", name: i.metadata?.name ?? "" }));
    return keys;
  }

  /**
   * Route keys that name a Service (or the backend a companion stands for), and whether a
   * companion pass is due: the Service is a backend, or is (or was) a companion.
   */
  keysForService(svc: V1Service | undefined, namespace: string, name: string): { keys: string[]; companions: boolean } {
    const companion = svc ? isCompanion(svc) : name.startsWith(COMPANION_PREFIX);
    const backend = (svc && companion ? svc.metadata?.labels?.[COMPANION_LABEL] : undefined) ?? name;
    const keys: string[] = [];
    for (const i of this.objects.listIngresses()) {
      if (ingressNamesService(i, namespace, backend)) keys.push(refKey({ kind: "ingress", namespace, name: i.metadata?.name ?? "" }));
    }
    for (const [k, kind] of Object.entries(ROUTE_KINDS) as [L7Kind, GatewayRouteKind][]) {
      for (const r of this.objects.listRoutes(kind)) {
        if (routeNamesService(r, namespace, backend)) keys.push(refKey({ kind: k, namespace: r.metadata?.namespace ?? "", name: r.metadata?.name ?? "" }));
      }
    }
    return { keys, companions: companion || keys.length > 0 };
  }

  /**
   * Makes the companion Services match what the served routes need: creates, updates and,
   * once the caches are complete, deletes those no route needs any more (the ownerReference
   * does that too where a garbage collector runs, but not across namespaces).
   */
  async reconcileCompanions(): Promise<{ created: number; updated: number; deleted: number }> {
    const view = this.view();
    const needs: CompanionNeed[] = [];
    for (const r of this.servedRoutes(view)) needs.push(...r.companions);
    const wanted = desiredCompanions(needs, (ns, n) => this.opts.services.service(ns, n));
    const existing = new Map(
      this.opts.services
        .listServices()
        .filter(isCompanion)
        .map((s) => [`${s.metadata?.namespace ?? ""}/${s.metadata?.name ?? ""}`, s]),
    );
    const counts = { created: 0, updated: 0, deleted: 0 };
    for (const spec of wanted) {
      const key = `${spec.namespace}/${spec.name}`;
      const current = existing.get(key);
      existing.delete(key);
      if (!current) {
        try {
          await this.opts.companions.create(companionObject(spec));
          counts.created++;
        } catch (err) {
          // A Service of that name that is not ours (no companion label): never touched.
          if (apiStatusCode(err) !== 409) throw err;
          if (!this.opts.services.service(spec.namespace, spec.name)) throw err;
          this.opts.log.warn({ service: key }, "a Service not managed by sharedlb holds the companion's name; left alone");
        }
      } else if (!companionUpToDate(current, spec)) {
        await this.opts.companions.replace(companionObject(spec, current));
        counts.updated++;
      }
    }
    if (this.objects.complete) {
      for (const [key, svc] of existing) {
        await this.opts.companions.delete(svc.metadata?.namespace ?? "", svc.metadata?.name ?? "");
        counts.deleted++;
        this.opts.log.debug({ service: key }, "companion no longer referenced, deleted");
      }
    }
    return counts;
  }

  private *servedRoutes(view: L7View): Generator<NormalizedRoute> {
    for (const i of this.objects.listIngresses()) {
      const r = normalizeIngress(view, i);
      if (r) yield r;
    }
    for (const kind of Object.values(ROUTE_KINDS)) {
      for (const route of this.objects.listRoutes(kind)) {
        const r = normalizeGatewayRoute(view, kind, route);
        if (r) yield r;
      }
    }
  }

  private desiredSecret(view: L7View, namespace: string, name: string, published: PublishedEntry | undefined): DesiredResource | undefined {
    const key = this.opts.sealingKey;
    if (!key || !this.keyId) return undefined;
    const secret = this.objects.secret(namespace, name);
    const version = `${secret?.metadata?.resourceVersion ?? ""}.${this.keyId.slice(0, 8)}`;
    const id = `${namespace}/${name}`;
    const seal: Sealer = (plaintext) => {
      const cached = this.sealed.get(id);
      if (cached?.version === version) return cached.sealed;
      const adopted = publishedSealedKey(published, secret?.metadata?.uid, this.keyId);
      // The same Secret version sealed to the same key before (a restart, another replica):
      // keep that ciphertext, so the event stays the same and nothing is republished.
      if (adopted && adopted.certificateChainPem === readCertificateChain(secret)) {
        this.sealed.set(id, { version, sealed: adopted.privateKey });
        return adopted.privateKey;
      }
      const sealed = sealPrivateKey(plaintext, key, sealedKeyContext(this.opts.cluster, namespace, name));
      this.sealed.set(id, { version, sealed });
      return sealed;
    };
    let data: ReturnType<typeof normalizeSecret>;
    try {
      data = normalizeSecret(view, namespace, name, referencedSecrets(view, this.objects.listGateways(), this.objects.listIngresses()), seal);
    } catch (err) {
      this.opts.log.warn({ secret: id, err: describeError(err) }, "sealing a TLS key failed; the Secret is not published");
      return undefined;
    }
    if (!data) {
      this.sealed.delete(id);
      return undefined;
    }
    return { type: "io.sharedlb.secret.v1", data, uid: data.uid, version, fingerprint: fingerprint(data) };
  }
}

function versioned(
  d: { type: "io.sharedlb.gateway.v1"; data: GatewayResource } | { type: "io.sharedlb.route.v1"; data: RouteResource },
  resourceVersion: string | undefined,
): DesiredGateway | DesiredRoute {
  const fp = fingerprint(d.data);
  // The content depends on other objects too (Gateways, grants, Services): the version names both.
  const version = `${resourceVersion ?? ""}-${shortHash(fp, 8)}`;
  return d.type === "io.sharedlb.gateway.v1"
    ? { ...d, uid: d.data.uid, version, fingerprint: fp }
    : { ...d, uid: d.data.uid, version, fingerprint: fp };
}

/** The sealed key of a published Secret event of the same uid and sealing key, if the entry holds one. */
function publishedSealedKey(published: PublishedEntry | undefined, uid: string | undefined, keyId: string | undefined): SecretResource | undefined {
  // A fingerprint is the canonical JSON of the published data (domain/fingerprint.ts).
  if (!published?.fingerprint || !uid || !keyId || published.uid !== uid) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(published.fingerprint);
  } catch {
    return undefined;
  }
  if (!validateData("io.sharedlb.secret.v1", data)) return undefined;
  return data.uid === uid && data.privateKey.keyId === keyId ? data : undefined;
}
