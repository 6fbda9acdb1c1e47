import { nkeys } from "@nats-io/nats-core";

export interface UserNkey {
  /** `U…`: what the server's authorization lists. */
  publicKey: string;
  /** `SU…`: the secret the client holds (NATS_NKEY file). */
  seed: string;
}

/** A fresh NATS user nkey pair (ed25519). */
export function createUserNkey(): UserNkey {
  const kp = nkeys.createUser();
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

/** The public key (`U…`) a seed file's identity has: what the registry must list for it. */
export function publicKeyOfSeed(seed: string): string {
  return nkeys.fromSeed(new TextEncoder().encode(seed.trim())).getPublicKey();
}
