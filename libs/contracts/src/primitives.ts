import { Type } from "@sinclair/typebox";

// Building blocks shared by every payload schema. Formats named here are registered in
// formats.ts, so the runtime validators check them; the published JSON Schemas carry the
// same `format` and `pattern` for other tools.

export const DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
export const DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
/** A Gateway API hostname: a DNS name, optionally with one leading `*.` label. */
export const HOSTNAME = "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

export const ClusterId = Type.String({ pattern: DNS_LABEL, maxLength: 63, description: "tenant cluster id" });
export const Namespace = Type.String({ pattern: DNS_LABEL, maxLength: 63 });
export const ServiceName = Type.String({ pattern: DNS_LABEL, maxLength: 63 });
export const DottedName = Type.String({ pattern: DNS_SUBDOMAIN, maxLength: 253 });
export const Uid = Type.String({ maxLength: 128 });
export const Port = Type.Integer({ minimum: 1, maximum: 65535 });
/** 0 means "none" (e.g. allocateLoadBalancerNodePorts: false). */
export const OptionalPort = Type.Integer({ minimum: 0, maximum: 65535 });
export const PortName = Type.String({ maxLength: 63 });
/** An IP address, or empty where the contract allows "none". */
export const IpAddress = Type.String({ maxLength: 45 });
/** A literal IPv4 or IPv6 address, checked. */
export const IpLiteral = Type.String({ format: "ip", maxLength: 45, description: "IPv4 or IPv6 address" });
export const Cidr = Type.String({ format: "cidr", maxLength: 49, description: "IPv4 or IPv6 CIDR, e.g. 10.1.0.0/16" });
export const Hostname = Type.String({ pattern: HOSTNAME, maxLength: 253, description: "DNS name, optionally *.-prefixed" });
export const Generation = Type.Integer({ minimum: 0, description: "the tenant object's metadata.generation" });
export const SharedlbAnnotations = Type.Record(
  Type.String({ pattern: "^sharedlb\\.io/" }),
  Type.String({ maxLength: 4096 }),
  { description: "only sharedlb.io/* keys", additionalProperties: false },
);
export const Timestamp = Type.String({ format: "date-time", maxLength: 64 });
