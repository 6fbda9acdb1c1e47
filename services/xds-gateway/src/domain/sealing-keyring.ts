import { openPrivateKey, type SealingKeyPair, sealedKeyContext, SealedKeyError, type SecretResource } from "@sharedlb/contracts";

/**
 * The gateway's sealing key pairs: TLS private keys arrive sealed to one of them and are
 * opened here, only in memory, when a Secret resource is built. The first pair is the
 * current one (what `--print-public-key` lists first); the others still open Secrets
 * sealed before a rotation.
 */
/** A Secret's certificate chain and private key in clear, as Envoy's SDS Secret carries them. */
export interface OpenedSecret {
  readonly certificateChainPem: string;
  readonly privateKeyPem: string;
}

export class SealingKeyring {
  /** Per Secret event held by the view: opened once, not on every rebuild of the slots using it. */
  private readonly opened = new WeakMap<SecretResource, OpenedSecret | SealedKeyError>();

  constructor(readonly keys: readonly SealingKeyPair[]) {}

  /**
   * What the L7 builder calls (serving's SecretOpener): the chain and key in clear, or
   * undefined when the key does not open; `onFailure` hears of each such Secret event once.
   */
  opener(onFailure: (secret: SecretResource, err: SealedKeyError) => void): (secret: SecretResource) => OpenedSecret | undefined {
    return (secret) => {
      let result = this.opened.get(secret);
      if (result === undefined) {
        try {
          result = { certificateChainPem: secret.certificateChainPem, privateKeyPem: this.open(secret).toString("utf8") };
        } catch (err) {
          if (!(err instanceof SealedKeyError)) throw err;
          result = err;
          onFailure(secret, err);
        }
        this.opened.set(secret, result);
      }
      return result instanceof SealedKeyError ? undefined : result;
    };
  }

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
