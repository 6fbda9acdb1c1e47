// In-process cost of one HTTPRoute edit on one L7 slot, split by stage: plan (the view's
// planL7Slot), build + encode (buildL7SlotResources), store (versioning the entries and
// ResourceStore.replace's diff), plus the whole ResourceTranslator.translateChanges for the
// same edit. No NATS, no processes: what the gateway's rebuild costs, and how it grows with
// the routes on the slot.
//   node --expose-gc bench/l7/slot-rebuild.mjs [--routes 250,1000,5000] [--tenants 5] [--edits 40] [--hostnames 0]
// Every slot holds `--tenants` Gateways (one HTTP listener each, on one shared IP:80) and
// `--routes` HTTPRoutes (bench/l7/fixture.mjs: one hostname each, 10 backends per tenant;
// `--hostnames N`: N hostnames per tenant instead, each route with a path of its own).
import { parseArgs } from "node:util";
import { decodeResourceMessage } from "../../libs/contracts/dist/index.js";
import * as serving from "../../libs/serving/dist/index.js";
import { ResourceEntry } from "../../services/xds-gateway/dist/domain/resource-entry.js";
import { ResourceStore } from "../../services/xds-gateway/dist/domain/resource-store.js";
import { ResourceTranslator } from "../../services/xds-gateway/dist/domain/resource-translator.js";
import { l7Fixture } from "./fixture.mjs";

const { values } = parseArgs({
  options: {
    routes: { type: "string", default: "250,1000,5000" },
    tenants: { type: "string", default: "5" },
    edits: { type: "string", default: "40" },
    hostnames: { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  },
});
const TENANTS = Number(values.tenants);
const EDITS = Number(values.edits);
/** Hostnames per tenant the routes share (0: one per route, as the fixture has it). */
const HOSTNAMES = Number(values.hostnames);
const NS = "bench";
const { buildL7SlotResources, TenantView } = serving;
// Absent before the slot cache existed: then only the uncached path is measured.
const L7SlotCache = serving.L7SlotCache;

function allocation(k, ip) {
  return {
    cluster: `t${k}`,
    namespace: NS,
    name: "gw",
    kind: "gateway",
    uid: `gw-${k}`,
    generation: 1,
    state: "Allocated",
    listeners: [
      {
        name: "http",
        protocol: "HTTP",
        state: "Allocated",
        pool: "public",
        ip,
        port: 80,
        shared: true,
        claimedHostnames: [`*.t${k}.example.com`],
        refusedHostnames: [],
        reason: "",
        message: "",
      },
    ],
    reason: "",
    message: "",
    resourceSequence: 1,
  };
}

/** A view with one slot of `routes` routes; `apply` feeds it one more message. */
function world(routes) {
  const fixture = l7Fixture({ tenants: TENANTS, ips: 1 });
  const view = new TenantView();
  let sequence = 0;
  const apply = (m) => {
    const msg = decodeResourceMessage(m.subject, m.bytes);
    const route = msg.event.type === "io.sharedlb.route.v1" ? msg.event.data : undefined;
    if (route && HOSTNAMES > 0) {
      // Many routes per virtual host: route i on hostname h<i % HOSTNAMES>, each its own path.
      const i = Number(route.name.slice(1));
      route.hostnames = [`h${i % HOSTNAMES}.${route.cluster}.example.com`];
      for (const rule of route.rules) for (const m of rule.matches) m.path = { ...m.path, value: `/r${i}${m.path.value}` };
    }
    view.applyResource(msg, ++sequence);
  };
  for (let k = 0; k < TENANTS; k++) {
    for (const m of fixture.nodeMessages(k)) apply(m);
    apply(fixture.gatewayMessage(k));
  }
  for (let i = 0; i < routes; i++) apply(fixture.routeMessage(i));
  for (let k = 0; k < TENANTS; k++) view.applyL7Allocation(allocation(k, fixture.ips[0]));
  return { view, fixture, apply, slot: `public/${fixture.ips[0]}/80` };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];
const opener = () => undefined;

/** The translator's L7 path, stage by stage, with a slot cache or without (the uncached path). */
function pipeline(view, slot, cached) {
  const store = new ResourceStore();
  const cache = cached ? new L7SlotCache() : undefined;
  const entries = new WeakMap();
  const owner = `l7:${slot}`;
  return () => {
    const t0 = performance.now();
    const plan = view.planL7Slot(slot, cache);
    const t1 = performance.now();
    const built = buildL7SlotResources(plan, opener, cache);
    const t2 = performance.now();
    const made = built.resources.map((b) => {
      const id = (o) => `${o.kind}/${o.cluster}/${o.namespace}/${o.name}`;
      const e = entries.get(b) ?? ResourceEntry.fromBuilt(b, plan.pool, owner, (b.objects ?? []).map(id));
      entries.set(b, e);
      return e;
    });
    const result = store.replace(owner, made);
    const t3 = performance.now();
    return { plan: t1 - t0, build: t2 - t1, store: t3 - t2, changes: result.changes.length, resources: made.length };
  };
}

/** Both paths on one view, taking turns edit by edit (a loaded machine slows both alike). */
function stages(routes) {
  const { view, fixture, apply, slot } = world(routes);
  const modes = [["uncached", pipeline(view, slot, false)], ...(L7SlotCache ? [["cached", pipeline(view, slot, true)]] : [])];
  const out = {};
  for (const [label, run] of modes) out[label] = { first: run(), samples: [] };
  for (let e = 0; e < EDITS; e++) {
    apply(fixture.routeMessage((e * 7919) % routes, e + 2));
    view.takeDirty();
    const order = e % 2 === 0 ? modes : [...modes].reverse();
    for (const [label, run] of order) out[label].samples.push(run());
  }
  const summary = ({ first, samples }) => {
    const pick = (f) => ({ median: median(samples.map(f)), p90: p90(samples.map(f)) });
    return {
      resources: first.resources,
      firstMs: first.plan + first.build + first.store,
      changes: median(samples.map((s) => s.changes)),
      plan: pick((s) => s.plan),
      build: pick((s) => s.build),
      store: pick((s) => s.store),
      total: pick((s) => s.plan + s.build + s.store),
    };
  };
  return Object.fromEntries(Object.entries(out).map(([label, r]) => [label, summary(r)]));
}

/** The gateway's own translation of one edit and of a burst of 100 edits. */
function translator(routes) {
  const { view, fixture, apply } = world(routes);
  const t = new ResourceTranslator(view);
  t.translateChanges();
  const one = [];
  for (let e = 0; e < EDITS; e++) {
    apply(fixture.routeMessage((e * 7919) % routes, e + 2));
    const t0 = performance.now();
    t.translateChanges();
    one.push(performance.now() - t0);
  }
  const burst = [];
  for (let b = 0; b < 5; b++) {
    for (let e = 0; e < 100; e++) apply(fixture.routeMessage((e * 31 + b) % routes, 1000 + b));
    const t0 = performance.now();
    t.translateChanges();
    burst.push(performance.now() - t0);
  }
  return { edit: { median: median(one), p90: p90(one) }, burst100: { median: median(burst) } };
}

const fmt = (x) => x.toFixed(2);
const rows = [];
for (const routes of values.routes.split(",").map(Number)) {
  global.gc?.();
  const { uncached, cached } = stages(routes);
  global.gc?.();
  const whole = translator(routes);
  rows.push({ routes, uncached, cached, translator: whole });
  if (!values.json) {
    for (const [label, s] of [
      ["uncached", uncached],
      ["cached", cached],
    ]) {
      if (!s) continue;
      console.log(
        `${routes} routes, ${s.resources} resources, ${label}: first build ${fmt(s.firstMs)} ms; one edit (median/p90 ms, ${s.changes} changed): ` +
          `plan ${fmt(s.plan.median)}/${fmt(s.plan.p90)}, build+encode ${fmt(s.build.median)}/${fmt(s.build.p90)}, ` +
          `store ${fmt(s.store.median)}/${fmt(s.store.p90)}, total ${fmt(s.total.median)}/${fmt(s.total.p90)}`,
      );
    }
    console.log(
      `${routes} routes, translator: one edit ${fmt(whole.edit.median)}/${fmt(whole.edit.p90)} ms, burst of 100 edits ${fmt(whole.burst100.median)} ms`,
    );
  }
}
if (values.json) console.log(JSON.stringify({ tenants: TENANTS, edits: EDITS, rows }));
