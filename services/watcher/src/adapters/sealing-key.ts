import { readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { parseSealingPublicKey, SealedKeyError } from "@sharedlb/contracts";
import { ConfigError } from "@sharedlb/runtime";

/**
 * `--sealing-public-key`: the gateways' X25519 public key as PEM, as base64url of its raw
 * 32 bytes, or the path of a file holding either.
 */
export function loadSealingPublicKey(value: string | undefined): KeyObject | undefined {
  if (!value) return undefined;
  const inline = value.includes("-----BEGIN") || /^[A-Za-z0-9_-]{43}$/.test(value.trim());
  let text = value;
  if (!inline) {
    try {
      text = readFileSync(value, "utf8");
    } catch (err) {
      throw new ConfigError(`--sealing-public-key: cannot read ${value}: ${(err as Error).message}`);
    }
  }
  try {
    return parseSealingPublicKey(text);
  } catch (err) {
    if (err instanceof SealedKeyError) throw new ConfigError(`--sealing-public-key: ${err.message}`);
    throw err;
  }
}
