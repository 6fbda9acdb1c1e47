export interface RenderKubeconfigOptions {
  server: string;
  /** PEM bundle of the CA that signed the server certificate. */
  caCert: string;
  token: string;
  /** User entry name, e.g. `admin` or `system:serviceaccount:ns:sa`. */
  user: string;
  /** Default namespace of the context. */
  namespace?: string;
  /** Cluster and context name. Default `envtest`. */
  cluster?: string;
}

// JSON strings are valid YAML double-quoted scalars, so quoting every value
// with JSON.stringify keeps the YAML correct whatever the contents.
const q = (value: string): string => JSON.stringify(value);

/** Renders a token-authenticated kubeconfig (YAML) that verifies the server with `caCert`. */
export function renderKubeconfig(opts: RenderKubeconfigOptions): string {
  const cluster = opts.cluster ?? "envtest";
  const caData = Buffer.from(opts.caCert, "utf8").toString("base64");
  const lines = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${q(cluster)}`,
    "  cluster:",
    `    server: ${q(opts.server)}`,
    `    certificate-authority-data: ${q(caData)}`,
    "users:",
    `- name: ${q(opts.user)}`,
    "  user:",
    `    token: ${q(opts.token)}`,
    "contexts:",
    `- name: ${q(cluster)}`,
    "  context:",
    `    cluster: ${q(cluster)}`,
    `    user: ${q(opts.user)}`,
  ];
  if (opts.namespace !== undefined) lines.push(`    namespace: ${q(opts.namespace)}`);
  lines.push(`current-context: ${q(cluster)}`, "preferences: {}", "");
  return lines.join("\n");
}
