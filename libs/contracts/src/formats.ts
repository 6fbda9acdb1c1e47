import { isIP } from "node:net";
import { FormatRegistry } from "@sinclair/typebox";

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** True for `a.b.c.d/n` (n ≤ 32) and `v6/n` (n ≤ 128), as Kubernetes accepts them. */
export function isCidr(value: string): boolean {
  const slash = value.indexOf("/");
  if (slash < 0 || slash !== value.lastIndexOf("/")) return false;
  const family = isIP(value.slice(0, slash));
  const bits = value.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

// The validators compiled from the schemas look formats up here; registering them once at
// import keeps every event type's check identical wherever it runs.
if (!FormatRegistry.Has("date-time")) FormatRegistry.Set("date-time", (v) => ISO_TIME.test(v));
if (!FormatRegistry.Has("ip")) FormatRegistry.Set("ip", (v) => isIP(v) !== 0);
if (!FormatRegistry.Has("cidr")) FormatRegistry.Set("cidr", isCidr);
