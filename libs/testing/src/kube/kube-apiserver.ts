import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureKubeBinaries, type KubeBinaries } from "./binaries.js";
import { installGatewayApiCrds } from "./gateway-api.js";
import { type KubeRequestOptions, type KubeResponse, kubeRequest } from "./http.js";
import { renderKubeconfig } from "./kubeconfig.js";
import { freePorts, type ManagedProcess, ProcessExitedError, releaseTempDir, spawnManaged, trackTempDir, waitFor } from "./process.js";

export interface StartKubeApiserverOptions {
  /**
   * Directory with `kube-apiserver` and `etcd`. Default: `$SHAREDLB_ENVTEST_BIN_DIR`,
   * else the cache dir printed by `tools/envtest/build.sh` (which builds on first use).
   */
  binDir?: string;
  /** Upper bound for building the binaries when they are missing. Default 30 min. */
  buildTimeoutMs?: number;
  /** Deadline for etcd + kube-apiserver to become ready. Default 60 s. */
  startTimeoutMs?: number;
  /** Service ClusterIP range. Default `10.96.0.0/16`. */
  serviceClusterIpRange?: string;
  /** Appended to the kube-apiserver command line (a repeated scalar flag overrides). */
  extraApiserverArgs?: readonly string[];
  /** Appended to the etcd command line. */
  extraEtcdArgs?: readonly string[];
  /** kube-apiserver `-v` level. Default 0. */
  verbosity?: number;
  /** Keep the temp dir (logs, etcd data, kubeconfigs) after stop(). Default `$SHAREDLB_ENVTEST_KEEP === '1'`. */
  keepTmpDir?: boolean;
  /** Grace period for SIGTERM before SIGKILL in stop(). Default 5 s. */
  stopGraceMs?: number;
  /** Install the Gateway API standard-channel CRDs (tools/gateway-api) before resolving. Default false. */
  gatewayApiCrds?: boolean;
}

export interface TokenForOptions {
  /** Token lifetime; the apiserver enforces a minimum of 600 s. Default 3600 s. */
  expirationSeconds?: number;
  /** Default: the apiserver's API audiences (the service-account issuer). */
  audiences?: readonly string[];
}

export interface KubeApiserver {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  /** PEM of the CA that signed the serving certificate (use it instead of skipping TLS verification). */
  readonly caCert: string;
  /** Bearer token of `admin` in group `system:masters`. */
  readonly adminToken: string;
  /** Admin kubeconfig YAML (token auth, CA-verified). */
  readonly adminKubeconfig: string;
  readonly adminKubeconfigPath: string;
  /** `http://127.0.0.1:<port>` of the backing etcd. */
  readonly etcdUrl: string;
  /** Service-account token issuer (`--service-account-issuer`). */
  readonly serviceAccountIssuer: string;
  /** Per-instance temp dir (logs: `etcd.log`, `kube-apiserver.log`). */
  readonly tmpDir: string;
  /** Milliseconds from spawning etcd to kube-apiserver `/readyz` = 200. */
  readonly startupMs: number;
  /**
   * Issues a token for an existing ServiceAccount via the TokenRequest API
   * (`POST .../serviceaccounts/<name>/token`).
   */
  tokenFor(namespace: string, serviceAccount: string, opts?: TokenForOptions): Promise<string>;
  /** Writes a kubeconfig authenticating as the ServiceAccount (default namespace = `namespace`); returns its path. */
  kubeconfigFor(namespace: string, serviceAccount: string, opts?: TokenForOptions): Promise<string>;
  /** Raw API call, as admin unless `opts.token` is given. */
  request(path: string, opts?: KubeRequestOptions): Promise<KubeResponse>;
  /**
   * Stops kube-apiserver only (etcd and its data stay), as an outage of the tenant's control
   * plane. `resume()` starts it again on the same port with the same certificates and tokens
   * and resolves once `/readyz` answers 200.
   */
  interrupt(): Promise<{ resume(): Promise<void> }>;
  /** Kills kube-apiserver and etcd and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 60_000;
const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";
const MAX_ATTEMPTS = 3;

/**
 * Starts a private etcd + kube-apiserver pair on free loopback ports. No
 * controllers run: ClusterIP/NodePort allocation, watches, status
 * subresources, RBAC and TokenRequest work; nothing reconciles (e.g. a deleted
 * Namespace stays Terminating, no Pods are created for Deployments).
 */
export async function startKubeApiserver(opts: StartKubeApiserverOptions = {}): Promise<KubeApiserver> {
  const bins = await ensureKubeBinaries({ binDir: opts.binDir, buildTimeoutMs: opts.buildTimeoutMs });
  for (let attempt = 1; ; attempt++) {
    try {
      const kube = await startOnce(bins, opts);
      if (opts.gatewayApiCrds) await installGatewayApiCrds(kube).catch(async (err: unknown) => {
        await kube.stop();
        throw err;
      });
      return kube;
    } catch (err) {
      // Free ports are released before the servers bind them, so another
      // process may win the race; that is the only failure worth retrying.
      const portRace = err instanceof ProcessExitedError && /address already in use/i.test(err.log);
      if (!portRace || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}

async function startOnce(bins: KubeBinaries, opts: StartKubeApiserverOptions): Promise<KubeApiserver> {
  const keep = opts.keepTmpDir ?? process.env.SHAREDLB_ENVTEST_KEEP === "1";
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const graceMs = opts.stopGraceMs ?? 5_000;
  const tmpDir = await mkdtemp(join(tmpdir(), "sharedlb-kube-"));
  if (!keep) trackTempDir(tmpDir);
  const procs: ManagedProcess[] = [];

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Reverse start order: kube-apiserver first, then etcd.
      for (const proc of [...procs].reverse()) await proc.stop(graceMs);
      if (!keep) {
        await rm(tmpDir, { recursive: true, force: true });
        releaseTempDir(tmpDir);
      }
    })();
    return stopping;
  };

  try {
    const [etcdClientPort, etcdPeerPort, apiserverPort] = (await freePorts(3)) as [number, number, number];
    const started = Date.now();
    const deadline = started + timeoutMs;

    // --- etcd -------------------------------------------------------------
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = spawnManaged(
      "etcd",
      bins.etcd,
      [
        "--name=envtest",
        `--data-dir=${join(tmpDir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=envtest=${peerUrl}`,
        "--initial-cluster-state=new",
        // Throwaway data: skip fsync, it dominates latency on shared disks.
        "--unsafe-no-fsync",
        "--log-level=warn",
        ...(opts.extraEtcdArgs ?? []),
      ],
      join(tmpDir, "etcd.log"),
    );
    procs.push(etcd);
    await waitFor(
      async () => {
        const res = await kubeRequest(etcdUrl, "/health", undefined, { timeoutMs: probeTimeout(deadline) });
        return res.status === 200 && /"health":\s*"true"/.test(res.text) ? true : undefined;
      },
      { what: `etcd ${etcdUrl}/health (startTimeoutMs ${timeoutMs})`, deadline, watch: [etcd] },
    );

    // --- kube-apiserver ---------------------------------------------------
    const certDir = join(tmpDir, "certs");
    await mkdir(certDir, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const saKeyPath = join(tmpDir, "sa.key");
    const saPubPath = join(tmpDir, "sa.pub");
    await writeFile(saKeyPath, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    await writeFile(saPubPath, publicKey.export({ type: "spki", format: "pem" }));
    const adminToken = randomBytes(32).toString("hex");
    const tokenFile = join(tmpDir, "tokens.csv");
    // token,user,uid,"group1,group2"
    await writeFile(tokenFile, `${adminToken},admin,admin,system:masters\n`, { mode: 0o600 });

    const url = `https://127.0.0.1:${apiserverPort}`;
    const spawnApiserver = () =>
      spawnManaged(
        "kube-apiserver",
        bins.kubeApiserver,
        [
          `--etcd-servers=${etcdUrl}`,
          "--bind-address=127.0.0.1",
          "--advertise-address=127.0.0.1",
          `--secure-port=${apiserverPort}`,
          // No --tls-cert-file: kube-apiserver generates a CA + serving cert
          // (SANs 127.0.0.1, the kubernetes Service IP and DNS names) here.
          `--cert-dir=${certDir}`,
          `--token-auth-file=${tokenFile}`,
          "--authorization-mode=RBAC",
          `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
          `--service-account-key-file=${saPubPath}`,
          `--service-account-signing-key-file=${saKeyPath}`,
          `--service-cluster-ip-range=${opts.serviceClusterIpRange ?? "10.96.0.0/16"}`,
          // ServiceAccount admission waits for the token controller / default
          // SA (kube-controller-manager), which does not run here.
          "--disable-admission-plugins=ServiceAccount",
          // Endpoints for the `kubernetes` Service would point at 127.0.0.1,
          // which Endpoints validation rejects; nothing needs them here.
          "--endpoint-reconciler-type=none",
          // Skips the APF bootstrap config and request queuing: faster start,
          // no throttling of busy tests.
          "--enable-priority-and-fairness=false",
          "--allow-privileged=true",
          `--v=${opts.verbosity ?? 0}`,
          ...(opts.extraApiserverArgs ?? []),
        ],
        join(tmpDir, "kube-apiserver.log"),
      );
    let apiserver = spawnApiserver();
    procs.push(apiserver);

    const caCert = await waitFor(() => readGeneratedCa(join(certDir, "apiserver.crt")), {
      what: `kube-apiserver serving certificate in ${certDir} (startTimeoutMs ${timeoutMs})`,
      deadline,
      watch: [etcd, apiserver],
    });
    const apiserverReady = (until: number) =>
      waitFor(
        async () => {
          const res = await kubeRequest(url, "/readyz", caCert, { token: adminToken, timeoutMs: probeTimeout(until) });
          return res.status === 200 ? true : undefined;
        },
        {
          what: `kube-apiserver ${url}/readyz (startTimeoutMs ${timeoutMs})`,
          deadline: until,
          watch: [etcd, apiserver],
        },
      );
    await apiserverReady(deadline);
    const startupMs = Date.now() - started;

    const adminKubeconfig = renderKubeconfig({ server: url, caCert, token: adminToken, user: "admin" });
    const adminKubeconfigPath = join(tmpDir, "admin.kubeconfig");
    await writeFile(adminKubeconfigPath, adminKubeconfig, { mode: 0o600 });

    const request = (path: string, reqOpts: KubeRequestOptions = {}): Promise<KubeResponse> =>
      kubeRequest(url, path, caCert, { ...reqOpts, token: reqOpts.token ?? adminToken });

    const tokenFor = async (namespace: string, serviceAccount: string, tokenOpts: TokenForOptions = {}) => {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}` + `/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`;
      const res = await request(path, {
        method: "POST",
        body: {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: {
            expirationSeconds: tokenOpts.expirationSeconds ?? 3600,
            ...(tokenOpts.audiences ? { audiences: tokenOpts.audiences } : {}),
          },
        },
      });
      const token = tokenFromResponse(res.body);
      if (res.status !== 201 || token === undefined) {
        throw new Error(`TokenRequest for ${namespace}/${serviceAccount} failed with HTTP ${res.status}: ${res.text}`);
      }
      return token;
    };

    let kubeconfigs = 0;
    const kubeconfigFor = async (namespace: string, serviceAccount: string, tokenOpts?: TokenForOptions) => {
      const token = await tokenFor(namespace, serviceAccount, tokenOpts);
      const yaml = renderKubeconfig({
        server: url,
        caCert,
        token,
        user: `system:serviceaccount:${namespace}:${serviceAccount}`,
        namespace,
      });
      const path = join(tmpDir, `kubeconfig-${namespace}-${serviceAccount}-${++kubeconfigs}.yaml`);
      await writeFile(path, yaml, { mode: 0o600 });
      return path;
    };

    return {
      url,
      caCert,
      adminToken,
      adminKubeconfig,
      adminKubeconfigPath,
      etcdUrl,
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      tmpDir,
      startupMs,
      tokenFor,
      kubeconfigFor,
      request,
      interrupt: async () => {
        await apiserver.stop(graceMs);
        return {
          resume: async () => {
            const stopped = apiserver;
            apiserver = spawnApiserver();
            procs[procs.indexOf(stopped)] = apiserver;
            await apiserverReady(Date.now() + timeoutMs);
          },
        };
      },
      stop,
    };
  } catch (err) {
    // On failure keep nothing running; keep the logs only when asked to.
    await stop().catch(() => undefined);
    throw err;
  }
}

/**
 * kube-apiserver writes `<cert-dir>/apiserver.crt` as the serving certificate
 * followed by the self-signed CA that issued it. Returns the CA PEM once the
 * file is complete, else undefined.
 */
async function readGeneratedCa(certPath: string): Promise<string | undefined> {
  let pem: string;
  try {
    pem = await readFile(certPath, "utf8");
  } catch {
    return undefined;
  }
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  if (blocks.length < 2) return undefined;
  const leaf = new X509Certificate(blocks[0] ?? "");
  for (const block of blocks.slice(1)) {
    const ca = new X509Certificate(block);
    if (ca.ca && leaf.checkIssued(ca) && leaf.verify(ca.publicKey)) return block.endsWith("\n") ? block : `${block}\n`;
  }
  return undefined;
}

function tokenFromResponse(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || !("status" in body)) return undefined;
  const status = body.status;
  if (typeof status !== "object" || status === null || !("token" in status)) return undefined;
  return typeof status.token === "string" ? status.token : undefined;
}

/** A single readiness probe may not outlive the start deadline by much. */
function probeTimeout(deadline: number): number {
  return Math.min(5_000, Math.max(100, deadline - Date.now()));
}
