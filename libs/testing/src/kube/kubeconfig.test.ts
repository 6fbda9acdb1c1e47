import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { renderKubeconfig } from "./kubeconfig.js";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

describe("renderKubeconfig", () => {
  it("renders a token kubeconfig that client-node loads with the CA", () => {
    const kc = new KubeConfig();
    kc.loadFromString(
      renderKubeconfig({
        server: "https://127.0.0.1:6443",
        caCert: CA,
        token: "abc.def-ghi_jkl",
        user: "system:serviceaccount:ns:sa",
        namespace: "ns",
      }),
    );
    expect(kc.getCurrentContext()).toBe("envtest");
    expect(kc.getCurrentCluster()).toMatchObject({ server: "https://127.0.0.1:6443", skipTLSVerify: false });
    expect(Buffer.from(kc.getCurrentCluster()?.caData ?? "", "base64").toString("utf8")).toBe(CA);
    expect(kc.getCurrentUser()).toMatchObject({ name: "system:serviceaccount:ns:sa", token: "abc.def-ghi_jkl" });
    expect(kc.getContextObject("envtest")?.namespace).toBe("ns");
  });

  it("quotes values that would otherwise be YAML syntax", () => {
    const kc = new KubeConfig();
    kc.loadFromString(
      renderKubeconfig({ server: "https://h:1", caCert: CA, token: 'a: "b" #c', user: "u", cluster: "x: y" }),
    );
    expect(kc.getCurrentContext()).toBe("x: y");
    expect(kc.getCurrentUser()?.token).toBe('a: "b" #c');
  });
});
