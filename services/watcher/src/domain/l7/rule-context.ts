import type { RefusedRef, RouteBackend } from "@sharedlb/contracts";
import { type RouteIdentity, resolveBackendRef } from "./backends.js";
import type { CompanionNeed } from "./companions.js";
import type { BackendRef } from "./gateway-api.js";
import { refused } from "./references.js";
import type { L7View } from "./view.js";

/** What a route's rules are normalized against, and what they report back. */
export class RuleContext {
  readonly refusedRefs: RefusedRef[] = [];
  readonly companions: CompanionNeed[] = [];

  constructor(
    readonly view: L7View,
    readonly route: RouteIdentity,
  ) {}

  /** Refuses a value of the route itself (a match, a filter, a hostname). */
  refuseValue(field: string, message: string): void {
    const { group, kind, namespace, name } = this.route;
    this.refusedRefs.push(refused(field, { group, kind, namespace, name }, "UnsupportedValue", message));
  }

  /** The backends that resolve; the others are refused with their reason. */
  backends(refs: readonly BackendRef[] | undefined, field: string): RouteBackend[] {
    const out: RouteBackend[] = [];
    (refs ?? []).forEach((ref, j) => {
      const f = `${field}.backendRefs[${j}]`;
      const b = this.backend(ref, f);
      if (b) out.push(b);
      if ((ref.filters ?? []).length > 0) this.refuseValue(`${f}.filters`, "filters on a single backendRef are not supported; they are ignored");
    });
    return out;
  }

  backend(ref: BackendRef, field: string): RouteBackend | undefined {
    const r = resolveBackendRef(this.view, this.route, ref, field);
    if ("refused" in r) {
      this.refusedRefs.push(r.refused);
      return undefined;
    }
    if (r.companion) this.companions.push(r.companion);
    return r.backend;
  }
}
