import { readFileSync } from "node:fs";
import {
  type Authenticator,
  credsAuthenticator,
  nkeyAuthenticator,
  type TlsOptions,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/nats-core";
import { ConfigError } from "./config.js";
import { redactUrl } from "./logging.js";

/** How a process identifies itself to NATS and verifies the server (flags/env, see docs/security.md). */
export interface NatsSecurity {
  user?: string | undefined;
  password?: string | undefined;
  token?: string | undefined;
  /** A `.creds` file (JWT + nkey seed, decentralized auth). */
  credsFile?: string | undefined;
  /** A file holding an nkey seed (`SU…`). */
  nkeyFile?: string | undefined;
  /** CA bundle the server certificate must chain to; setting it (or tls://) requires TLS. */
  caFile?: string | undefined;
  /** Client certificate and key, when the server asks for one (verify: true). */
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Reply-subject prefix; per tenant (`_INBOX_<cluster>`) so no one can read another's replies. */
  inboxPrefix?: string | undefined;
}

export interface NatsConnectSettings {
  servers: string[];
  authenticator?: Authenticator;
  tls?: TlsOptions;
  inboxPrefix?: string;
  /** What identity is used, safe to log (never a secret). */
  identity: string;
}

/**
 * Turns `--nats-url` and the security flags into connection options. nats.js ignores
 * `user:pass@` inside server URLs, so URL credentials are taken out and used properly
 * (`nats://user:pass@host`, or `nats://token@host`); conflicting sources are a ConfigError.
 */
export function natsConnectSettings(url: string, sec: NatsSecurity, read: (path: string) => Uint8Array = readSecretFile): NatsConnectSettings {
  const fromUrl = new Set<string>();
  let urlUser: string | undefined;
  let urlPass: string | undefined;
  const servers = url
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((s) => {
      const m = /^([a-z]+:\/\/)?(?:([^@/]*)@)?(.+)$/i.exec(s);
      if (!m?.[3]) throw new ConfigError(`--nats-url "${redactUrl(s)}" is not a NATS server URL`);
      if (m[2] !== undefined) {
        fromUrl.add(m[2]);
        const [u, ...p] = m[2].split(":");
        urlUser = decodeURIComponent(u ?? "");
        urlPass = p.length > 0 ? decodeURIComponent(p.join(":")) : undefined;
      }
      return `${m[1] ?? ""}${m[3]}`;
    });
  if (servers.length === 0) throw new ConfigError("--nats-url is empty");
  if (fromUrl.size > 1) throw new ConfigError("--nats-url: every server URL must carry the same credentials (or none)");
  const explicit = [
    sec.user !== undefined || sec.password !== undefined ? "--nats-user/--nats-password" : undefined,
    sec.token !== undefined ? "--nats-token" : undefined,
    sec.credsFile !== undefined ? "--nats-creds" : undefined,
    sec.nkeyFile !== undefined ? "--nats-nkey" : undefined,
    fromUrl.size > 0 ? "credentials in --nats-url" : undefined,
  ].filter((x) => x !== undefined);
  if (explicit.length > 1) throw new ConfigError(`NATS credentials given more than once: ${explicit.join(", ")}; use one`);

  const out: NatsConnectSettings = { servers, identity: "anonymous" };
  if (fromUrl.size > 0) {
    if (urlPass !== undefined) {
      out.authenticator = usernamePasswordAuthenticator(urlUser ?? "", urlPass);
      out.identity = `user ${urlUser}`;
    } else {
      out.authenticator = tokenAuthenticator(urlUser ?? "");
      out.identity = "token";
    }
  } else if (sec.user !== undefined || sec.password !== undefined) {
    if (!sec.user || sec.password === undefined) throw new ConfigError("--nats-user and --nats-password go together");
    out.authenticator = usernamePasswordAuthenticator(sec.user, sec.password);
    out.identity = `user ${sec.user}`;
  } else if (sec.token !== undefined) {
    out.authenticator = tokenAuthenticator(sec.token);
    out.identity = "token";
  } else if (sec.credsFile !== undefined) {
    out.authenticator = credsAuthenticator(readOrFail("--nats-creds", sec.credsFile, read));
    out.identity = `creds ${sec.credsFile}`;
  } else if (sec.nkeyFile !== undefined) {
    const seed = new TextDecoder().decode(readOrFail("--nats-nkey", sec.nkeyFile, read)).trim();
    out.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
    out.identity = `nkey ${sec.nkeyFile}`;
  }

  if ((sec.certFile === undefined) !== (sec.keyFile === undefined)) throw new ConfigError("--nats-cert and --nats-key go together");
  const wantsTls = sec.caFile !== undefined || sec.certFile !== undefined || servers.some((s) => /^tls:\/\//i.test(s));
  if (wantsTls) {
    // Read here, once: a missing file is a startup error naming the flag, not a reconnect loop.
    const text = (flag: string, path: string) => new TextDecoder().decode(readOrFail(flag, path, read));
    const tls: TlsOptions = {};
    if (sec.caFile !== undefined) tls.ca = text("--nats-ca", sec.caFile);
    if (sec.certFile !== undefined && sec.keyFile !== undefined) {
      tls.cert = text("--nats-cert", sec.certFile);
      tls.key = text("--nats-key", sec.keyFile);
    }
    out.tls = tls;
  }
  if (sec.inboxPrefix !== undefined && sec.inboxPrefix !== "") {
    if (!/^[A-Za-z0-9_-]+$/.test(sec.inboxPrefix)) throw new ConfigError(`--nats-inbox-prefix "${sec.inboxPrefix}" must be one subject token`);
    out.inboxPrefix = sec.inboxPrefix;
  }
  return out;
}

/** The same settings from the environment (NATS_USER, NATS_PASSWORD, …), for tools without the service flags. */
export function natsSecurityFromEnv(env: NodeJS.ProcessEnv): NatsSecurity {
  const v = (k: string) => (env[k] !== undefined && env[k] !== "" ? env[k] : undefined);
  return {
    user: v("NATS_USER"),
    password: v("NATS_PASSWORD"),
    token: v("NATS_TOKEN"),
    credsFile: v("NATS_CREDS"),
    nkeyFile: v("NATS_NKEY"),
    caFile: v("NATS_CA"),
    certFile: v("NATS_CERT"),
    keyFile: v("NATS_KEY"),
    inboxPrefix: v("NATS_INBOX_PREFIX"),
  };
}

function readSecretFile(path: string): Uint8Array {
  return readFileSync(path);
}

function readOrFail(flag: string, path: string, read: (path: string) => Uint8Array): Uint8Array {
  try {
    return read(path);
  } catch (err) {
    throw new ConfigError(`${flag} ${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
  }
}
