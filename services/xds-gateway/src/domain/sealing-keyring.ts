import { openPrivateKey, type SealingKeyPair, sealedKeyContext, SealedKeyError, type SecretResource } from "@sharedlb/contracts";

/**
 * The gateway's sealing key pairs: TLS private keys arrive sealed to one of them and are
 * opened here, only in memory, when a Secret resource is built. The first pair is the
 * current one (what `--print-public-key` lists first); the others still open Secrets
 * sealed before a rotation.
 */
export class SealingKeyring {
  constructor(readonly keys: readonly SealingKeyPair[]) {}

  get keyIds(): string[] {
    return this.keys.map((k) => k.keyId);
  }

  /**
   * The private key of `secret` in clear (PEM bytes). Throws SealedKeyError: `UnknownKey`
   * when it is sealed to a key this gateway does not hold, `Undecryptable` when it does
   * not authenticate (e.g. copied onto another Secret's event).
   */
  open(secret: SecretResource): Buffer {
    if (this.keys.length === 0) {
      throw new SealedKeyError("UnknownKey", `sealed to key ${secret.privateKey.keyId}, and this gateway holds no sealing key`);
    }
    return openPrivateKey(secret.privateKey, this.keys, sealedKeyContext(secret.cluster, secret.namespace, secret.name));
  }
}
