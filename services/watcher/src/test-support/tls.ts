import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestKeyPair {
  cert: string;
  key: string;
}

const CA_CONFIG = `[ ca ]
default_ca = CA_default
[ CA_default ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = policy_any
copy_extensions = copy
[ policy_any ]
commonName = supplied
`;

/**
 * A self-signed EC P-256 certificate for `dns` valid from `notBefore` to `notAfter`
 * (openssl ca, which, unlike req -days, takes any dates: expired ones too). Tests only.
 */
export function selfSignedCert(dns: string[], validity: { notBefore?: Date; notAfter?: Date } = {}): TestKeyPair {
  const dir = mkdtempSync(join(tmpdir(), "sharedlb-cert-"));
  try {
    const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    writeFileSync(join(dir, "ca.cnf"), CA_CONFIG);
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "serial"), "01\n");
    const notBefore = validity.notBefore ?? new Date(Date.now() - 3_600_000);
    const notAfter = validity.notAfter ?? new Date(Date.now() + 86_400_000);
    run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.pem"]);
    // PKCS#8, as cert-manager writes by default for EC keys.
    run(["pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-out", "key.pem"]);
    const san = dns.map((d) => `DNS:${d}`).join(",");
    run(["req", "-new", "-key", "key.pem", "-out", "req.csr", "-subj", `/CN=${dns[0] ?? "test"}`, ...(san ? ["-addext", `subjectAltName=${san}`] : [])]);
    run(["ca", "-config", "ca.cnf", "-selfsign", "-keyfile", "key.pem", "-in", "req.csr", "-out", "cert.pem", "-batch", "-notext",
      "-startdate", opensslTime(notBefore), "-enddate", opensslTime(notAfter)]);
    return { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function opensslTime(d: Date): string {
  return `${d.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;
}
