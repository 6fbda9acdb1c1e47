import { readFileSync } from "node:fs";
import { parseSealingPrivateKey, type SealingKeyPair, SealedKeyError } from "@sharedlb/contracts";
import { ConfigError } from "@sharedlb/runtime";

/**
 * Reads the sealing private keys from `--sealing-keys` (comma-separated PEM files,
 * PKCS#8 X25519 as `openssl genpkey -algorithm X25519` writes them). Errors name the file
 * and never quote its content.
 */
export function readSealingKeyFiles(list: string | undefined): SealingKeyPair[] {
  const files = (list ?? "")
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  const keys: SealingKeyPair[] = [];
  for (const file of files) {
    let pem: string;
    try {
      pem = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(`--sealing-keys: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
    }
    try {
      const pair = parseSealingPrivateKey(pem);
      if (!keys.some((k) => k.keyId === pair.keyId)) keys.push(pair);
    } catch (err) {
      if (err instanceof SealedKeyError) throw new ConfigError(`--sealing-keys: ${file}: ${err.message}`);
      throw err;
    }
  }
  return keys;
}

/** What `--print-public-key` prints: per key its id and public key (SPKI PEM), current first. */
export function describePublicKeys(keys: readonly SealingKeyPair[]): string {
  return keys.map((k) => `# keyId ${k.keyId}\n${k.publicKey.export({ type: "spki", format: "pem" }).toString()}`).join("");
}
