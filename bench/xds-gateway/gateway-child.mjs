// The gateway process of fanout.mjs and reconnect.mjs: fanout-server.mjs forked with the
// fixture's arguments, spoken to one message at a time (`ask` sends and waits for the reply).
import { fork } from "node:child_process";

export function forkGateway({ services, budget, clusters, env = {} }) {
  const child = fork(new URL("./fanout-server.mjs", import.meta.url), [services, budget, clusters], {
    execArgv: ["--expose-gc", "--max-old-space-size=8192", ...(process.env.FANOUT_SERVER_FLAGS?.split(" ").filter(Boolean) ?? [])],
    env: { ...process.env, ...env },
  });
  const replies = [];
  let wake;
  child.on("message", (m) => {
    replies.push(m);
    wake?.();
  });
  async function reply() {
    while (replies.length === 0) await new Promise((r) => (wake = r));
    return replies.shift();
  }
  const ask = async (msg) => {
    child.send(msg);
    return reply();
  };
  return { child, reply, ask };
}
