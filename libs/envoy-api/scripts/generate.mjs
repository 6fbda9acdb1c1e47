#!/usr/bin/env node
// Generates typed static protobuf code for the subset of the Envoy v3 xDS API
// that sharedlb serves. Input: the .proto files shipped in @grpc/grpc-js-xds
// (deps/) plus protobufjs' built-in google/protobuf well-known types.
// Output: generated/envoy.js (ESM) + generated/envoy.d.ts, next to src/ and
// dist/ so that `../generated/envoy.js` resolves the same way from both
// (this avoids allowJs or a copy step in `tsc -b`).
//
// Usage: node scripts/generate.mjs [--force]
//   Skips work when generated/.stamp matches the inputs (package versions of
//   grpc-js-xds/protobufjs/protobufjs-cli and this script); --force ignores it.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const protobuf = require("protobufjs");
const { pbjs } = require("protobufjs-cli");

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outDir = path.join(pkgDir, "generated");
const outJs = path.join(outDir, "envoy.js");
const outDts = path.join(outDir, "envoy.d.ts");
const stampFile = path.join(outDir, ".stamp");

const xdsPkgDir = path.dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
const depsDir = path.join(xdsPkgDir, "deps");
const includePaths = [
  ...["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => path.join(depsDir, d)),
  // google/protobuf/descriptor.proto (imported by the option annotations,
  // which are pruned) is not among protobufjs' bundled definitions.
  path.dirname(require.resolve("protobufjs/package.json")),
];

// Files defining the roots below; everything else is pulled in through imports.
const protoFiles = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/service/discovery/v3/discovery.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/config/core/v3/address.proto",
  "envoy/config/core/v3/base.proto",
  "envoy/config/core/v3/config_source.proto",
  "envoy/config/core/v3/health_check.proto",
  "envoy/config/core/v3/proxy_protocol.proto",
  "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
  "envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.proto",
  "envoy/extensions/filters/udp/udp_proxy/v3/route.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/transport_sockets/proxy_protocol/v3/upstream_proxy_protocol.proto",
  "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto",
  // Layer 7: TLS termination with SDS secrets, SNI chains, HTTP/2 upstreams.
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/transport_sockets/tls/v3/secret.proto",
  "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "xds/type/matcher/v3/matcher.proto",
  "google/rpc/status.proto",
  "google/protobuf/any.proto",
  "google/protobuf/duration.proto",
  "google/protobuf/wrappers.proto",
  "google/protobuf/struct.proto",
];

// Roots of the keep set. Types only reachable through google.protobuf.Any
// (filter configs, transport sockets, matcher actions) must be listed here,
// because no field references them statically.
const rootNames = [
  "envoy.service.discovery.v3.AggregatedDiscoveryService",
  "envoy.service.discovery.v3.DiscoveryRequest",
  "envoy.service.discovery.v3.DiscoveryResponse",
  "envoy.service.discovery.v3.DeltaDiscoveryRequest",
  "envoy.service.discovery.v3.DeltaDiscoveryResponse",
  "envoy.service.discovery.v3.Resource",
  "envoy.config.listener.v3.Listener",
  "envoy.config.listener.v3.FilterChain",
  "envoy.config.listener.v3.Filter",
  "envoy.config.listener.v3.ApiListener",
  "envoy.config.cluster.v3.Cluster",
  "envoy.config.endpoint.v3.ClusterLoadAssignment",
  "envoy.config.route.v3.RouteConfiguration",
  "envoy.config.core.v3.Address",
  "envoy.config.core.v3.SocketAddress",
  "envoy.config.core.v3.HealthCheck",
  "envoy.config.core.v3.ConfigSource",
  "envoy.config.core.v3.AggregatedConfigSource",
  "envoy.config.core.v3.TransportSocket",
  "envoy.config.core.v3.ProxyProtocolConfig",
  "envoy.config.core.v3.Node",
  "envoy.config.core.v3.Locality",
  "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
  "envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig",
  "envoy.extensions.filters.udp.udp_proxy.v3.Route",
  "xds.type.matcher.v3.Matcher",
  "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  "envoy.extensions.filters.http.router.v3.Router",
  "envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport",
  "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer",
  "envoy.extensions.transport_sockets.tls.v3.Secret",
  "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
  "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
  "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
  "google.rpc.Status",
  "google.protobuf.Any",
  "google.protobuf.Duration",
  "google.protobuf.UInt32Value",
  "google.protobuf.Struct",
];

const pbjsOptions = {
  target: "static-module",
  wrap: "esm",
  // A private roots key so another pbjs bundle in the same process cannot
  // overwrite our namespaces in protobufjs' shared `roots.default`.
  root: "sharedlb_envoy_api",
  dts: true,
  // xDS never uses length-delimited framing, and grpc-js needs a
  // ServiceDefinition rather than protobufjs' rpc.Service classes.
  delimited: false,
  service: false,
  // Semantic checks live in src/validate.ts; pbjs' verify() only re-checks
  // JS types that TypeScript already enforces, and costs ~0.8 MB.
  verify: false,
  // int64 fields in what we serve are durations, counters and byte sizes
  // that fit 2^53; plain numbers keep Long out of the public types. This only
  // changes the declarations: see numbersForInt64() for the runtime half.
  "force-number": true,
};

function inputHash() {
  const h = createHash("sha256");
  h.update(readFileSync(path.join(xdsPkgDir, "package.json")));
  h.update(readFileSync(require.resolve("protobufjs/package.json")));
  h.update(readFileSync(require.resolve("protobufjs-cli/package.json")));
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  return h.digest("hex");
}

function loadRoot() {
  const root = new protobuf.Root();
  // Mirrors pbjs' own resolver: well-known google/protobuf types come from
  // protobufjs' bundled definitions, everything else from the include paths.
  root.resolvePath = (origin, target) => {
    const normTarget = protobuf.util.path.normalize(target);
    const idx = normTarget.lastIndexOf("google/protobuf/");
    if (idx > -1 && normTarget.substring(idx) in protobuf.common) {
      return normTarget.substring(idx);
    }
    for (const dir of includePaths) {
      const candidate = path.join(dir, normTarget);
      if (existsSync(candidate)) return candidate;
    }
    const relative = protobuf.util.path.resolve(origin, normTarget);
    if (existsSync(relative)) return relative;
    throw new Error(`cannot resolve ${target} (imported from ${origin || "<root>"})`);
  };
  root.loadSync(protoFiles, { keepCase: false });
  root.resolveAll();
  return root;
}

/** Collects every reflection object reachable from rootNames through fields. */
function collectKeepSet(root) {
  const keep = new Set();
  const visit = (obj) => {
    if (!obj || keep.has(obj)) return;
    keep.add(obj);
    // A nested type cannot be emitted without its enclosing message.
    if (obj.parent instanceof protobuf.Type) visit(obj.parent);
    if (obj instanceof protobuf.Type) {
      for (const field of obj.fieldsArray) {
        if (field.declaringField) continue; // extension sister field
        if (field.resolvedType) visit(field.resolvedType);
      }
    } else if (obj instanceof protobuf.Service) {
      for (const method of obj.methodsArray) {
        visit(method.resolvedRequestType);
        visit(method.resolvedResponseType);
      }
    }
  };
  for (const name of rootNames) {
    const obj = root.lookup(name);
    if (!obj || obj instanceof protobuf.Field || obj.constructor === protobuf.Namespace) {
      throw new Error(`root type not found: ${name}`);
    }
    visit(obj);
  }
  return keep;
}

/** Removes everything not in `keep`; returns the number of kept types. */
function prune(ns, keep) {
  for (const child of [...ns.nestedArray]) {
    if (child instanceof protobuf.Field) {
      ns.remove(child); // extension declarations (validate, udpa annotations)
    } else if (child instanceof protobuf.Type || child instanceof protobuf.Enum || child instanceof protobuf.Service) {
      if (!keep.has(child)) ns.remove(child);
      else if (child instanceof protobuf.Type) prune(child, keep);
    } else if (child instanceof protobuf.Namespace) {
      prune(child, keep);
      if (child.nestedArray.length === 0) ns.remove(child);
    } else {
      ns.remove(child);
    }
  }
  if (ns instanceof protobuf.Type) {
    for (const field of [...ns.fieldsArray]) {
      if (field.declaringField) ns.remove(field);
    }
  }
}

// pbts derives the .d.ts from the JSDoc in the generated JS, so pbjs has to
// run with comments on. The runtime file does not need them (about a third of
// its size), and pbjs emits every JSDoc block as whole lines from a line that
// is exactly "/**" to one that is exactly "*/" (string literals in generated
// code are single-line JSON), so dropping those line ranges is exact. For the
// same reason (no template literals or multi-line strings) the deep
// indentation can go too: it is ~40% of what is left.
function stripJsDoc(js) {
  const out = [];
  let inComment = false;
  for (const line of js.split("\n")) {
    const t = line.trim();
    if (!inComment && t === "/**") {
      inComment = true;
      continue;
    }
    if (inComment) {
      if (t === "*/") inComment = false;
      continue;
    }
    if (t === "") continue;
    out.push(t.replace(/\/\* id \d+, wireType \d+ =\*\//g, ""));
  }
  if (inComment) throw new Error("unterminated JSDoc block in pbjs output");
  return `${out.join("\n")}\n`;
}

// pbjs' force-number only changes the declared types: the generated decoders
// still return whatever protobufjs' Reader yields, which is a Long object
// whenever the "long" package is installed (it is a protobufjs dependency).
// Reconfiguring protobufjs globally (util.Long = undefined) would change
// every other user of the same protobufjs copy, so instead make this file
// behave as if Long were absent: decoders convert 64-bit reads to numbers,
// and the `$util.Long ? <Long path> : <number path>` branches in defaults and
// fromObject/toObject take the number path.
function numbersForInt64(js) {
  const importLine = 'import $protobuf from "protobufjs/minimal.js";\n';
  if (!js.includes(importLine)) throw new Error("pbjs output: protobufjs import not found");
  let out = js.replace(/\breader\.(?:int64|uint64|sint64|fixed64|sfixed64)\(\)/g, "$int64ToNumber($&)");
  out = out.replace(/\$util\.Long(?!Bits)\b/g, "$noLong");
  out = out.replace(
    importLine,
    `${importLine}// Added by scripts/generate.mjs: 64-bit integers are plain numbers here.\n` +
      "const $noLong = undefined;\n" +
      'const $int64ToNumber = (v) => typeof v === "number" ? v : v.toNumber();\n',
  );
  if (/\$util\.Long(?!Bits)\b/.test(out)) throw new Error("pbjs output: unhandled $util.Long use");
  return out;
}

// With force-number no declaration mentions Long, and an `import = require`
// left in an ESM declaration file is just noise for consumers.
function tidyDts(dts) {
  const longImport = 'import Long = require("long");\n';
  if (dts.includes(longImport) && !/\bLong\b/.test(dts.replace(longImport, ""))) {
    return dts.replace(longImport, "");
  }
  return dts;
}

function generate(root) {
  return new Promise((resolve, reject) => {
    pbjs.generate(root, pbjsOptions, (err, js, dts) => (err ? reject(err) : resolve({ js, dts })));
  });
}

async function main() {
  const args = new Set(process.argv.slice(2));
  const hash = inputHash();
  if (
    !args.has("--force") &&
    existsSync(outJs) &&
    existsSync(outDts) &&
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8").trim() === hash
  ) {
    console.log("envoy-api: generated code is up to date");
    return;
  }
  const t0 = performance.now();
  const root = loadRoot();
  const keep = collectKeepSet(root);
  prune(root, keep);
  const types = [...keep].filter((o) => o instanceof protobuf.Type).length;
  const generated = await generate(root);
  if (!generated.dts) throw new Error("pbjs produced no declarations");
  const js = numbersForInt64(stripJsDoc(generated.js));
  const dts = tidyDts(generated.dts);
  mkdirSync(outDir, { recursive: true });
  // Write-then-rename so an interrupted run never leaves a half file that
  // the stamp check would accept.
  for (const [file, text] of [
    [outJs, js],
    [outDts, dts],
  ]) {
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  }
  writeFileSync(stampFile, `${hash}\n`);
  const ms = Math.round(performance.now() - t0);
  console.log(
    `envoy-api: generated ${types} message types in ${ms} ms ` +
      `(envoy.js ${(js.length / 1024).toFixed(0)} KiB, envoy.d.ts ${(dts.length / 1024).toFixed(0)} KiB)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
