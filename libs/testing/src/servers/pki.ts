import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface IssuedCert {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface TestPki {
  caFile: string;
  ca: string;
  /** A leaf certificate signed by this CA (server and client usages), with the given subject names. */
  issue(name: string, san: { dns?: string[]; ip?: string[]; uri?: string[] }): IssuedCert;
}

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });

/** A throwaway CA in `dir` (openssl, EC P-256, one day): tests only. */
export function makeTestPki(dir: string, caName = "sharedlb-test-ca"): TestPki {
  mkdirSync(dir, { recursive: true });
  const caKey = join(dir, `${caName}.key`);
  const caFile = join(dir, `${caName}.crt`);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", caKey]);
  openssl(["req", "-x509", "-new", "-key", caKey, "-out", caFile, "-days", "1", "-subj", `/CN=${caName}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  return {
    caFile,
    ca: readFileSync(caFile, "utf8"),
    issue(name, san) {
      const keyFile = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const certFile = join(dir, `${name}.crt`);
      const ext = join(dir, `${name}.ext`);
      const names = [...(san.dns ?? []).map((d) => `DNS:${d}`), ...(san.ip ?? []).map((i) => `IP:${i}`), ...(san.uri ?? []).map((u) => `URI:${u}`)];
      writeFileSync(ext, [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth,clientAuth",
        ...(names.length > 0 ? [`subjectAltName=${names.join(",")}`] : []),
      ].join("\n"));
      openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile]);
      openssl(["req", "-new", "-key", keyFile, "-out", csr, "-subj", `/CN=${name}`]);
      openssl(["x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial", "-out", certFile, "-days", "1", "-extfile", ext]);
      return { certFile, keyFile, cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
    },
  };
}
