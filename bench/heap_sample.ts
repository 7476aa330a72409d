/**
 * Bytes allocated per proxied request, by the function that allocated them,
 * in the server and the agent: a steadier guide than CPU time on a shared
 * machine, since it does not move with the load of other work. Starts the
 * bench backend, server and agent (two processes, with `--inspect` on free
 * loopback ports), warms up with wrk, then samples every allocation (V8's
 * sampling heap profiler, collected objects included) during a wrk run.
 *
 * Run: `deno run -A bench/heap_sample.ts [path=/small] [seconds=4] [top=25]`
 *
 * @module
 */

import { Processes } from "./http/children.ts";
import { DOMAIN } from "./http/settings.ts";

const [path = "/small", seconds = "4", top = "25"] = Deno.args;
const BACKEND = new URL("./http_backend.ts", import.meta.url);
const TUNNEL = new URL("./http_tunnel.ts", import.meta.url);

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

/** A free loopback port (closed again: a tiny race, fine for a bench tool). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A Chrome DevTools Protocol session with the inspector on `port`. */
async function inspector(port: number) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  const pending = new Map<number, (result: Record<string, unknown>) => void>();
  let next = 0;
  ws.onmessage = (e) => {
    const message = JSON.parse(e.data);
    pending.get(message.id)?.(message.result ?? message.error);
    pending.delete(message.id);
  };
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return {
    call(method: string, params: Record<string, unknown> = {}) {
      const id = ++next;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise<Record<string, unknown>>((resolve) => pending.set(id, resolve));
    },
    close: () => ws.close(),
  };
}

async function runWrk(url: string, duration: string): Promise<number> {
  const out = await new Deno.Command("wrk", {
    args: ["-t2", "-c50", `-d${duration}`, "-H", `Host: ${DOMAIN}`, url],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const match = text.match(/(\d+) requests in/);
  if (match === null) throw new Error(`wrk printed no request count:\n${text}`);
  return Number(match[1]);
}

/** Self bytes by function (`name file:line`), over the whole sampled tree. */
function bySelf(node: SampleNode, into = new Map<string, number>()): Map<string, number> {
  if (node.selfSize > 0) {
    const f = node.callFrame;
    const file = f.url.split("/").slice(-2).join("/");
    const key = `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
    into.set(key, (into.get(key) ?? 0) + node.selfSize);
  }
  for (const child of node.children) bySelf(child, into);
  return into;
}

const notes: string[] = [];
{
  await using procs = new Processes(notes);
  const backend = await procs.start("backend", { script: BACKEND, env: {} });
  const direct = `http://127.0.0.1:${backend.port}`;
  const env = { BENCH_TARGET: direct, BENCH_DOMAIN: DOMAIN };
  const ports = { server: freePort(), agent: freePort() };
  const server = await procs.start("server", {
    script: TUNNEL,
    flags: [`--inspect=127.0.0.1:${ports.server}`],
    args: ["server"],
    env,
  });
  await procs.start("agent", {
    script: TUNNEL,
    flags: [`--inspect=127.0.0.1:${ports.agent}`],
    args: ["agent"],
    env: {
      ...env,
      BENCH_PORT: String(server.port),
      BENCH_CA_FILE: server.caFile as string,
      BENCH_SECRET: server.secret as string,
    },
  });
  const url = `https://127.0.0.1:${server.port}${path}`;
  await runWrk(url, "2s");
  const sessions = { server: await inspector(ports.server), agent: await inspector(ports.agent) };
  for (const s of Object.values(sessions)) {
    await s.call("HeapProfiler.enable");
    await s.call("HeapProfiler.startSampling", {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const requests = await runWrk(url, `${seconds}s`);
  console.log(`${path}: ${requests} requests in ${seconds} s (slowed by the inspector)`);
  for (const [role, s] of Object.entries(sessions)) {
    const { profile } = await s.call("HeapProfiler.stopSampling") as {
      profile: { head: SampleNode };
    };
    s.close();
    const self = bySelf(profile.head);
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    console.log(`\n${role}: ${(total / requests / 1024).toFixed(1)} KiB allocated per request`);
    for (const [where, bytes] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
      const perRequest = (bytes / requests).toFixed(0).padStart(6);
      console.log(`  ${perRequest} B  ${(bytes / total * 100).toFixed(1).padStart(5)}%  ${where}`);
    }
  }
}
if (notes.some((n) => n.trim() !== "")) console.log(`\n${notes.join("\n")}`);
