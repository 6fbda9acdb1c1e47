// The intermediate representation of one L7 slot (Envoy Gateway style: Gateway API →
// IR → xDS). The view resolves attachment, hostnames, precedence and endpoints into
// this plain data (planL7Slot); buildL7SlotResources only translates it to Envoy.
import type { ProgrammedKind, RouteFilter, RouteMatch, SecretResource } from "@sharedlb/contracts";
import type { NodeEndpoint } from "../node-selection.js";

/** The kinds of tenant objects an L7 slot serves (a Service is never on one). */
export type L7ObjectKind = Exclude<ProgrammedKind, "service">;

/** A tenant object whose content a resource carries, for `lb.programmed` per object. */
export interface L7ObjectRef {
  readonly cluster: string;
  readonly namespace: string;
  readonly name: string;
  readonly kind: L7ObjectKind;
  /** The tenant object's metadata.generation (0 when the watcher did not know it). */
  readonly generation: number;
}

/** Unseals a Secret's private key in the gateway's memory; undefined when it cannot. */
export type SecretOpener = (secret: SecretResource) => { certificateChainPem: string; privateKeyPem: string } | undefined;

/** Which Envoy listener an (IP, port) gets: `http-<ip>-<port>` or `https-<ip>-<port>`. */
export type L7ListenerKind = "http" | "https";

/** How Envoy talks to a backend: HTTP/1.1, HTTP/2 (gRPC, h2c) or raw TCP (TLS passthrough). */
export type BackendProtocol = "http" | "h2" | "tls";

export interface WeightedCluster {
  readonly cluster: string;
  readonly weight: number;
}

/** One Envoy route: a (rule, match) pair of a tenant route, in precedence order. */
export interface RoutePlan {
  /** `<kind>/<cluster>/<ns>/<name>/rule-<i>/match-<j>`: unique within a virtual host. */
  readonly name: string;
  readonly object: L7ObjectRef;
  /** Empty: everything (PathPrefix "/"). */
  readonly match: RouteMatch;
  readonly filters: readonly RouteFilter[];
  /** Weight 0 and refused backends are left out; empty: Envoy answers 500. */
  readonly backends: readonly WeightedCluster[];
  readonly mirrors: readonly { readonly cluster: string; readonly percent: number }[];
  readonly requestTimeoutMs: number | undefined;
  readonly backendRequestTimeoutMs: number | undefined;
}

export interface VirtualHostPlan {
  /** The effective hostname (`*` on an exclusive listener without one). */
  readonly hostname: string;
  readonly routes: readonly RoutePlan[];
}

export interface SecretPlan {
  /** `<cluster>/<ns>/<secret>`, the SDS name. */
  readonly name: string;
  readonly secret: SecretResource;
  readonly objects: readonly L7ObjectRef[];
}

/** A filter chain of the HTTPS/TLS listener: one claimed hostname (`*`: no server_names). */
export type ChainPlan =
  | {
      readonly mode: "Terminate";
      readonly hostname: string;
      /** SDS names of the certificates, in the order the listener lists them. */
      readonly secrets: readonly string[];
      readonly virtualHosts: readonly VirtualHostPlan[];
      readonly objects: readonly L7ObjectRef[];
    }
  | {
      readonly mode: "Passthrough";
      readonly hostname: string;
      /** Empty: the connection is refused (no backend). */
      readonly backends: readonly WeightedCluster[];
      readonly objects: readonly L7ObjectRef[];
    };

export interface ClusterPlan {
  /** `<cluster>/<ns>/<svc>/<protocol>-<port>` */
  readonly name: string;
  readonly protocol: BackendProtocol;
  /** 0: no NodePort known (no endpoints). */
  readonly nodePort: number;
  readonly endpoints: readonly NodeEndpoint[];
  readonly objects: readonly L7ObjectRef[];
}

/** Proxyless gRPC: a GRPCRoute hostname as `xds:///<hostname>`, RDS `grpc/<hostname>`. */
export interface ApiListenerPlan {
  readonly hostname: string;
  readonly routes: readonly RoutePlan[];
  readonly objects: readonly L7ObjectRef[];
}

/** Everything served on one L7 (IP, port); plain data, the same on every replica. */
export interface L7SlotPlan {
  /** `<pool>/<ip>/<port>` */
  readonly key: string;
  readonly pool: string;
  readonly ip: string;
  readonly port: number;
  readonly listener: L7ListenerKind;
  /** HTTP listener: one virtual host per effective hostname. */
  readonly virtualHosts: readonly VirtualHostPlan[];
  /** HTTPS/TLS listener: one chain per claimed hostname. */
  readonly chains: readonly ChainPlan[];
  readonly secrets: readonly SecretPlan[];
  readonly clusters: readonly ClusterPlan[];
  readonly apiListeners: readonly ApiListenerPlan[];
  /** Every object served on the slot (listener owners and attached routes), sorted. */
  readonly objects: readonly L7ObjectRef[];
  /** The gateways/ingresses holding listeners on the slot: what the listener carries. */
  readonly listenerOwners: readonly L7ObjectRef[];
  /** What the tenants asked for that is not served, one sentence each. */
  readonly warnings: readonly string[];
}
