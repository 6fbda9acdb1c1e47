import { objectKey, parseObjectKey } from "@sharedlb/contracts";

/** The L7 kinds that own listeners and so get an allocation. */
export type L7OwnerKind = "gateway" | "ingress";

export interface L7OwnerRef {
  cluster: string;
  namespace: string;
  name: string;
  kind: L7OwnerKind;
}

// A Service's owner key is `cluster/namespace/name`; an L7 object's has its kind as a fourth
// part, so a Gateway, an Ingress and a Service of one name are three records.
export const l7Owner = (cluster: string, namespace: string, name: string, kind: L7OwnerKind): string => `${objectKey(cluster, namespace, name)}/${kind}`;

export const isL7Owner = (owner: string): boolean => owner.split("/").length === 4;

export function parseL7Owner(owner: string): L7OwnerRef {
  const cut = owner.lastIndexOf("/");
  const kind = owner.slice(cut + 1);
  if (kind !== "gateway" && kind !== "ingress") throw new L7OwnerSyntaxError(`"${owner}" is not <cluster>/<namespace>/<name>/gateway|ingress`);
  return { ...parseObjectKey(owner.slice(0, cut)), kind };
}

export class L7OwnerSyntaxError extends Error {
  override readonly name = "L7OwnerSyntaxError";
  readonly reason = "InvalidName";
}
