/**
 * A published port, measured with real `burrow server` and `burrow agent`
 * processes on loopback (one wss hop: client → server → agent → target):
 * bulk throughput with 1 and 8 connections, and connect latency (p50/p99:
 * connect → one byte echoed by the target, which includes the channel's
 * open and the agent's dial), each next to direct TCP to the same target,
 * and raw loopback wss (a sender thread and a draining Worker, as
 * `mux_bench.ts` measures it) in the same run; then the RSS growth of
 * server and agent per idle connection (BENCH_IDLE of them held open).
 * Client and targets run in this process.
 *
 * ```sh
 * deno run -A bench/publish_bench.ts   # BENCH_MIB=512 BENCH_CONNECTS=300 BENCH_IDLE=1000
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { connChannel } from "../shared/forward/splice.ts";
import { SUBPROTOCOL } from "../shared/protocol.ts";
import { fromWebSocket } from "../shared/transport/websocket.ts";
import type { PeerJob } from "./peer_worker.ts";

const MIB = 1024 * 1024;
const TOTAL = Number(Deno.env.get("BENCH_MIB") ?? 512) * MIB;
const CONNECTS = Number(Deno.env.get("BENCH_CONNECTS") ?? 300);
const CHUNK = 64 * 1024;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const SECRET = "publish-bench-secret-0123456789";

/** A free loopback port (free a moment ago). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** A loopback target: `sink` drains, `echo` echoes; the listener and its work. */
function target(kind: "sink" | "echo") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const state = { accepted: 0 };
  const loop = (async () => {
    for await (const conn of listener) {
      state.accepted++;
      conn.setNoDelay(true);
      (async () => {
        const ch = connChannel(conn, 256 * 1024);
        for (let c = await ch.read(); c !== null; c = await ch.read()) {
          if (kind === "echo") await ch.write(c);
        }
        await ch.closeWrite();
        ch.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  return { port: listener.addr.port, state, close: () => (listener.close(), loop) };
}

/** Writes `bytes` to `write` in 64 KiB chunks. */
async function pour(write: (c: Uint8Array) => Promise<unknown>, bytes: number): Promise<void> {
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  for (let n = 0; n < bytes; n += CHUNK) await write(chunk);
}

/** MB/s of TOTAL bytes over `conns` connections to `port`, each ended by the sink's close. */
async function bulk(port: number, conns: number): Promise<number> {
  const start = performance.now();
  await Promise.all(Array.from({ length: conns }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const ch = connChannel(conn);
    await pour((x) => ch.write(x), TOTAL / conns);
    await conn.closeWrite();
    while ((await ch.read()) !== null) { /* wait for the sink's close */ }
    ch.close();
  }));
  return TOTAL / MIB / ((performance.now() - start) / 1000);
}

/** Connect → first byte echoed, ms; sorted. */
async function connectTimes(port: number): Promise<number[]> {
  const times: number[] = [];
  const one = new Uint8Array([7]);
  for (let i = 0; i < CONNECTS; i++) {
    const t0 = performance.now();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    await conn.write(one);
    if (await conn.read(new Uint8Array(1)) !== 1) throw new Error("No echo");
    times.push(performance.now() - t0);
    conn.close();
  }
  return times.sort((a, b) => a - b);
}

/** Resident set size of process `pid`, bytes. */
function rss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

/**
 * RSS growth of server and agent per idle connection (bytes): IDLE clients
 * held open through the published sink port, once the sink has them all.
 */
async function idleCost(
  port: number,
  sinkState: { accepted: number },
  pids: number[],
): Promise<number[]> {
  const IDLE = Number(Deno.env.get("BENCH_IDLE") ?? 1000);
  const before = pids.map(rss);
  const base = sinkState.accepted;
  const held: Deno.Conn[] = [];
  for (let i = 0; i < IDLE; i++) held.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  for (let i = 0; sinkState.accepted - base < IDLE; i++) {
    if (i > 2000) throw new Error(`Only ${sinkState.accepted - base} of ${IDLE} reached the sink`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, 500)); // let the last ones settle
  const after = pids.map(rss);
  for (const c of held) c.close();
  return after.map((a, i) => (a - before[i]!) / IDLE);
}

/** Raw loopback wss, MB/s: this thread sends TOTAL bytes, a Worker drains them. */
async function rawWss(certs: { cert: string; key: string; caCert: string }): Promise<number> {
  const sockets = Promise.withResolvers<WebSocket>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert: certs.cert, key: certs.key, onListen() {} },
    (req) => {
      const { socket, response } = Deno.upgradeWebSocket(req, { protocol: SUBPROTOCOL });
      sockets.resolve(socket);
      return response;
    },
  );
  const worker = new Worker(new URL("./peer_worker.ts", import.meta.url), { type: "module" });
  try {
    const done = new Promise<number>((resolve, reject) => {
      worker.onmessage = (e) => {
        if ("received" in e.data) resolve(e.data.received);
        if ("error" in e.data) reject(new Error(e.data.error));
      };
    });
    const job: PeerJob = {
      transport: "wss",
      streams: 0,
      port: server.addr.port,
      caCert: certs.caCert,
    };
    worker.postMessage(job);
    const conn = await fromWebSocket(await sockets.promise);
    const start = performance.now();
    const writer = conn.writable.getWriter();
    await pour((x) => writer.write(x), TOTAL);
    await writer.close();
    const received = await done;
    if (received !== TOTAL) throw new Error(`wss peer got ${received} of ${TOTAL} bytes`);
    return TOTAL / MIB / ((performance.now() - start) / 1000);
  } finally {
    worker.terminate();
    await server.shutdown();
  }
}

const dir = await Deno.makeTempDir({ prefix: "burrow-publish-bench-" });
const certs = await makeCertificates({ hostnames: ["127.0.0.1", "localhost"] });
const sink = target("sink");
const echo = target("echo");
const [serverPort, sinkPublished, echoPublished] = [freePort(), freePort(), freePort()];
await Deno.writeTextFile(join(dir, "ca.pem"), certs.caCert);
await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
await Deno.writeTextFile(join(dir, "key.pem"), certs.key);
await Deno.mkdir(join(dir, "server.d"));
await Deno.mkdir(join(dir, "agents.d"));
await Deno.mkdir(join(dir, "agent.d"));
await Deno.writeTextFile(join(dir, "agents.d", "bench1.jsonc"), JSON.stringify({ secret: SECRET }));
const publish = (port: number, to: number) => ({
  listen: `127.0.0.1:${port}`,
  agent: "bench1",
  target: `127.0.0.1:${to}`,
  maxConnections: 10_000,
});
await Deno.writeTextFile(
  join(dir, "server.jsonc"),
  JSON.stringify({
    mode: "server",
    listen: [{ address: `127.0.0.1:${serverPort}`, cert: "cert.pem", key: "key.pem" }],
    agentFiles: "agents.d",
    publish: [publish(sinkPublished, sink.port), publish(echoPublished, echo.port)],
    log: { level: "warning" },
  }),
);
await Deno.writeTextFile(
  join(dir, "agent.jsonc"),
  JSON.stringify({
    mode: "agent",
    name: "bench1",
    secret: SECRET,
    remote: `127.0.0.1:${serverPort}`,
    caFile: join(dir, "ca.pem"),
    log: { level: "warning" },
  }),
);
const spawn = (role: string) =>
  new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, role, "--config", join(dir, `${role}.jsonc`)],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
const server = spawn("server");
const agent = spawn("agent");
try {
  // Ready when one byte comes back through the published echo port (20 s at most).
  const deadline = performance.now() + 20_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: echoPublished });
      await conn.write(new Uint8Array([1]));
      const n = await conn.read(new Uint8Array(1));
      conn.close();
      if (n === 1) break;
    } catch { /* not yet */ }
    if (performance.now() > deadline) throw new Error("The published port never echoed");
    await new Promise((r) => setTimeout(r, 50));
  }
  await bulk(sinkPublished, 1); // warm-up
  const wss = await rawWss(certs);
  console.log(
    `Published port (one wss hop), ${TOTAL / MIB} MiB per run; raw wss ${wss.toFixed(0)} MB/s`,
  );
  console.log("| connections | direct TCP MB/s | published MB/s | of direct | of raw wss |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const conns of [1, 8]) {
    const d = await bulk(sink.port, conns);
    const p = await bulk(sinkPublished, conns);
    const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
    console.log(
      `| ${conns} | ${d.toFixed(0)} | ${p.toFixed(0)} | ${pct(p / d)} | ${pct(p / wss)} |`,
    );
  }
  const at = (t: number[], q: number) => t[Math.min(t.length - 1, Math.floor(t.length * q))]!;
  const direct = await connectTimes(echo.port);
  const published = await connectTimes(echoPublished);
  console.log(
    `connect → 1 byte echoed, ${CONNECTS} connects: direct p50 ${at(direct, 0.5).toFixed(2)} ms ` +
      `p99 ${at(direct, 0.99).toFixed(2)} ms; published p50 ${at(published, 0.5).toFixed(2)} ms ` +
      `p99 ${at(published, 0.99).toFixed(2)} ms`,
  );
  const [serverCost, agentCost] = await idleCost(sinkPublished, sink.state, [
    server.pid,
    agent.pid,
  ]);
  console.log(
    `idle published connection: server RSS +${(serverCost! / 1024).toFixed(1)} KiB, ` +
      `agent RSS +${(agentCost! / 1024).toFixed(1)} KiB each`,
  );
} finally {
  for (const p of [agent, server]) {
    try {
      p.kill("SIGTERM");
    } catch { /* gone */ }
    await p.status;
  }
  await sink.close();
  await echo.close();
  await Deno.remove(dir, { recursive: true });
}
