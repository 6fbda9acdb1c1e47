// The parts of the Gateway API objects (gateway.networking.k8s.io/v1) the watcher reads.
// They come from the tenant's apiserver as JSON the CRD schema checked, but every field is
// optional here: a field the CRD defaults may be missing on an older install, and nothing
// the tenant wrote may crash normalization.

export const GATEWAY_GROUP = "gateway.networking.k8s.io";
export const GATEWAY_API_VERSION = `${GATEWAY_GROUP}/v1`;

export interface ObjectMeta {
  namespace?: string;
  name?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface GatewayApiObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key?: string; operator?: string; values?: string[] }[];
}

export interface GatewayClass extends GatewayApiObject {
  spec?: { controllerName?: string };
}

export interface SecretObjectReference {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface Listener {
  name?: string;
  hostname?: string;
  port?: number;
  protocol?: string;
  tls?: { mode?: string; certificateRefs?: SecretObjectReference[] };
  allowedRoutes?: {
    namespaces?: { from?: string; selector?: LabelSelector };
    kinds?: { group?: string; kind?: string }[];
  };
}

export interface Gateway extends GatewayApiObject {
  spec?: { gatewayClassName?: string; listeners?: Listener[] };
}

export interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  sectionName?: string;
  port?: number;
}

export interface BackendRef {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: unknown[];
}

export interface HeaderMatch {
  type?: string;
  name?: string;
  value?: string;
}

export interface HeaderFilter {
  set?: { name?: string; value?: string }[];
  add?: { name?: string; value?: string }[];
  remove?: string[];
}

export interface PathModifierSpec {
  type?: string;
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HttpRouteFilter {
  type?: string;
  requestHeaderModifier?: HeaderFilter;
  responseHeaderModifier?: HeaderFilter;
  requestRedirect?: { scheme?: string; hostname?: string; path?: PathModifierSpec; port?: number; statusCode?: number };
  urlRewrite?: { hostname?: string; path?: PathModifierSpec };
  requestMirror?: { backendRef?: BackendRef; percent?: number; fraction?: { numerator?: number; denominator?: number } };
}

export interface HttpRouteMatch {
  path?: { type?: string; value?: string };
  headers?: HeaderMatch[];
  queryParams?: HeaderMatch[];
  method?: string;
}

export interface HttpRouteRule {
  name?: string;
  matches?: HttpRouteMatch[];
  filters?: HttpRouteFilter[];
  backendRefs?: BackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}

export interface GrpcRouteMatch {
  method?: { type?: string; service?: string; method?: string };
  headers?: HeaderMatch[];
}

export interface GrpcRouteRule {
  name?: string;
  matches?: GrpcRouteMatch[];
  filters?: HttpRouteFilter[];
  backendRefs?: BackendRef[];
}

export interface TlsRouteRule {
  name?: string;
  backendRefs?: BackendRef[];
}

export interface RouteSpec<R> {
  parentRefs?: ParentRef[];
  hostnames?: string[];
  rules?: R[];
}

export interface HttpRoute extends GatewayApiObject {
  spec?: RouteSpec<HttpRouteRule>;
}
export interface GrpcRoute extends GatewayApiObject {
  spec?: RouteSpec<GrpcRouteRule>;
}
export interface TlsRoute extends GatewayApiObject {
  spec?: RouteSpec<TlsRouteRule>;
}

export interface ReferenceGrant extends GatewayApiObject {
  spec?: {
    from?: { group?: string; kind?: string; namespace?: string }[];
    to?: { group?: string; kind?: string; name?: string }[];
  };
}
