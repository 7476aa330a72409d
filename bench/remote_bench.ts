/**
 * Remote access (issue 10): bulk throughput (1 and 8 connections) and
 * connect latency (p50/p99) through a published port (one wss hop: client →
 * server → agent → target) and through `burrow forward` (two wss hops:
 * operator → server → agent → target), next to raw loopback wss, direct
 * TCP and the process-hop floor (two plain TCP relays in a row, each its own
 * process, `bench/remote/relay.ts`) measured in the same run; then what an idle forwarded connection costs
 * each process. Server, agent, operator and targets are separate processes
 * (`main.ts server|agent|forward`, `bench/remote/target.ts`), as deployed.
 *
 * Run: `deno run -A bench/remote_bench.ts` (BENCH_MIB: volume per
 * throughput run, default 256; BENCH_ROUNDS: rounds, median kept, default 3;
 * BENCH_CONNECTS: connects per round, default 300; BENCH_IDLE: idle
 * connections held, default 500; BENCH_ONLY=connect: connect latency only,
 * no bulk runs nor idle cost, for iterating). Besides the latencies, it
 * prints the CPU time each process on a path used per connect (from
 * `/proc/PID/stat`, 10 ms ticks summed over the rounds). Linux only (RSS and
 * CPU from /proc).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { dialWebSocket } from "../shared/transport/dial.ts";
import { generateToken, hashToken } from "../shared/auth/token.ts";

const MIB = 1024 * 1024;
const TOTAL = Number(Deno.env.get("BENCH_MIB") ?? 256) * MIB;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const IDLE = Number(Deno.env.get("BENCH_IDLE") ?? 500);
const CONNECTS = Number(Deno.env.get("BENCH_CONNECTS") ?? 300);
/** BENCH_ONLY=connect: connect latency only (no bulk runs, no idle cost), for iterating. */
const ONLY_CONNECT = Deno.env.get("BENCH_ONLY") === "connect";
const CHUNK = 64 * 1024;
const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const TARGET = fileURLToPath(new URL("./remote/target.ts", import.meta.url));
const RELAY = fileURLToPath(new URL("./remote/relay.ts", import.meta.url));

/** A child process of the bench. */
interface Proc {
  pid: number;
  stop(): Promise<void>;
}

function spawn(args: string[], what: string): { proc: Proc; stdout: ReadableStream<Uint8Array> } {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return {
    proc: {
      pid: child.pid,
      async stop() {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* gone */ }
        }, 5000);
        const status = await child.status;
        clearTimeout(timer);
        if (!status.success && status.signal === null && status.code !== 0) {
          console.error(`${what} exited with ${status.code}`);
        }
      },
    },
    stdout: child.stdout,
  };
}

/** CPU time `pid` used so far (user + system), in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** `VmRSS` of `pid`, in KiB. */
function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

async function freePorts(n: number): Promise<number[]> {
  const ls = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = ls.map((l) => l.addr.port);
  for (const l of ls) l.close();
  await Promise.resolve();
  return ports;
}

async function writeAll(conn: Deno.Conn, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length;) off += await conn.write(chunk.subarray(off));
}

/** MiB/s of TOTAL bytes over `conns` TCP connections to a sink on `port`. */
async function tcpThroughput(port: number, conns: number): Promise<number> {
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  const start = performance.now();
  await Promise.all(Array.from({ length: conns }, async () => {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.setNoDelay(true);
    for (let n = 0; n < TOTAL / conns; n += CHUNK) await writeAll(c, chunk);
    await c.closeWrite();
    const buf = new Uint8Array(16);
    while ((await c.read(buf)) !== null) { /* until the sink's close comes back */ }
    c.close();
  }));
  return TOTAL / MIB / ((performance.now() - start) / 1000);
}

/** MiB/s of TOTAL bytes over `conns` wss connections to the target's wss sink. */
async function wssThroughput(port: number, caCert: string, conns: number): Promise<number> {
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  const start = performance.now();
  await Promise.all(Array.from({ length: conns }, async () => {
    const ws = await dialWebSocket(`wss://127.0.0.1:${port}/?bytes=${TOTAL / conns}`, {
      protocols: ["bench"],
      caCerts: [caCert],
    });
    const reader = ws.conn.readable.getReader();
    const writer = ws.conn.writable.getWriter();
    for (let n = 0; n < TOTAL / conns; n += CHUNK) await writer.write(chunk);
    await reader.read();
    reader.releaseLock();
    writer.releaseLock();
    ws.close();
    await ws.closed;
  }));
  return TOTAL / MIB / ((performance.now() - start) / 1000);
}

/** Connect latency samples (ms): connect, one byte to the echo and back, close. */
async function tcpConnects(port: number): Promise<number[]> {
  const samples: number[] = [];
  const one = new Uint8Array([7]);
  const buf = new Uint8Array(1);
  for (let i = 0; i < CONNECTS; i++) {
    const start = performance.now();
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.setNoDelay(true);
    await writeAll(c, one);
    if ((await c.read(buf)) !== 1) throw new Error(`no echo through port ${port}`);
    samples.push(performance.now() - start);
    c.close();
  }
  return samples;
}

async function wssConnects(port: number, caCert: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < CONNECTS; i++) {
    const start = performance.now();
    const ws = await dialWebSocket(`wss://127.0.0.1:${port}/?bytes=1`, {
      protocols: ["bench"],
      caCerts: [caCert],
    });
    const writer = ws.conn.writable.getWriter();
    await writer.write(new Uint8Array([7]));
    const reader = ws.conn.readable.getReader();
    await reader.read();
    samples.push(performance.now() - start);
    reader.releaseLock();
    writer.releaseLock();
    ws.close();
    await ws.closed;
  }
  return samples;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

function median(xs: number[]): number {
  return percentile(xs, 0.5);
}

/** Waits until one byte echoes through `port` (the path is up end to end). */
async function ready(port: number, what: string): Promise<void> {
  const start = performance.now();
  for (;;) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await writeAll(c, new Uint8Array([1]));
        const buf = new Uint8Array(1);
        const got = await Promise.race([
          c.read(buf),
          new Promise<null>((r) => setTimeout(() => r(null), 1000)),
        ]);
        if (got === 1) return;
      } finally {
        c.close();
      }
    } catch { /* not yet */ }
    if (performance.now() - start > 30_000) throw new Error(`${what} did not come up in 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Opens `n` connections through `port`, each carrying one echoed byte; returns them open. */
async function holdIdle(port: number, n: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  const buf = new Uint8Array(1);
  for (let i = 0; i < n; i++) {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    await writeAll(c, new Uint8Array([1]));
    await c.read(buf);
    conns.push(c);
  }
  return conns;
}

async function idleCost(
  port: number,
  procs: Record<string, Proc>,
): Promise<Record<string, number>> {
  await new Promise((r) => setTimeout(r, 1000));
  const before = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, rssKiB(p.pid)]));
  const conns = await holdIdle(port, IDLE);
  await new Promise((r) => setTimeout(r, 2000));
  const after = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, rssKiB(p.pid)]));
  for (const c of conns) c.close();
  await new Promise((r) => setTimeout(r, 1000));
  return Object.fromEntries(
    Object.keys(procs).map((k) => [k, (after[k]! - before[k]!) / IDLE]),
  );
}

const dir = await Deno.makeTempDir({ prefix: "burrow-remote-bench-" });
const procs: Proc[] = [];
try {
  const certs = await makeCertificates({ hostnames: ["127.0.0.1", "localhost"] });
  await Deno.writeTextFile(join(dir, "ca.pem"), certs.caCert);
  await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
  await Deno.writeTextFile(join(dir, "key.pem"), certs.key);
  for (const d of ["server.d", "agents.d", "operators.d", "agent.d"]) {
    await Deno.mkdir(join(dir, d));
  }

  const target = spawn([TARGET, JSON.stringify({ cert: certs.cert, key: certs.key })], "target");
  procs.push(target.proc);
  const line = (await target.stdout.pipeThrough(new TextDecoderStream()).getReader().read()).value!;
  const ports = JSON.parse(line) as { sink: number; echo: number; wss: number };

  /** Two plain relays in a row, each its own process, to `port`: the first's port, and both. */
  const relayChain = async (port: number): Promise<{ port: number; relays: Proc[] }> => {
    let next = port;
    const relays: Proc[] = [];
    for (let i = 0; i < 2; i++) {
      const relay = spawn([RELAY, String(next)], "relay");
      procs.push(relay.proc);
      relays.unshift(relay.proc);
      const out = (await relay.stdout.pipeThrough(new TextDecoderStream()).getReader().read())
        .value!;
      next = (JSON.parse(out) as { port: number }).port;
    }
    return { port: next, relays };
  };
  const floorSink = (await relayChain(ports.sink)).port;
  const { port: floorEcho, relays: echoRelays } = await relayChain(ports.echo);

  const [serverPort, pubSink, pubEcho, fwdSink, fwdEcho] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const secret = crypto.randomUUID();
  const token = generateToken();
  await Deno.writeTextFile(join(dir, "agents.d", "bench.jsonc"), JSON.stringify({ secret }));
  await Deno.writeTextFile(
    join(dir, "operators.d", "bench.jsonc"),
    JSON.stringify({ token: hashToken(token), agents: ["*"], kinds: ["forward"] }),
  );
  await Deno.writeTextFile(join(dir, "operator.token"), token);
  await Deno.writeTextFile(
    join(dir, "server.jsonc"),
    JSON.stringify({
      mode: "server",
      listen: [{ address: `127.0.0.1:${serverPort}`, cert: "cert.pem", key: "key.pem" }],
      domains: "server.d",
      agentFiles: "agents.d",
      operatorFiles: "operators.d",
      // maxConnections: the idle measurement holds BENCH_IDLE connections (default limit 256).
      publish: [
        { listen: `127.0.0.1:${pubSink}`, agent: "bench", target: `127.0.0.1:${ports.sink}` },
        { listen: `127.0.0.1:${pubEcho}`, agent: "bench", target: `127.0.0.1:${ports.echo}` },
      ].map((entry) => ({ ...entry, maxConnections: 10_000 })),
      // The idle measurement holds BENCH_IDLE channels on one operator connection.
      operators: { maxStreams: 4000 },
      log: { level: "warning" },
    }),
  );
  await Deno.writeTextFile(
    join(dir, "agent.jsonc"),
    JSON.stringify({
      mode: "agent",
      name: "bench",
      secret,
      remote: `127.0.0.1:${serverPort}`,
      caFile: "ca.pem",
      log: { level: "warning" },
    }),
  );
  await Deno.writeTextFile(
    join(dir, "operator.jsonc"),
    JSON.stringify({
      server: `https://127.0.0.1:${serverPort}`,
      tokenFile: "operator.token",
      caFile: "ca.pem",
    }),
  );
  const server = spawn([MAIN, "server", "--config", join(dir, "server.jsonc")], "server").proc;
  procs.push(server);
  const agent = spawn([MAIN, "agent", "--config", join(dir, "agent.jsonc")], "agent").proc;
  procs.push(agent);
  await ready(pubEcho, "the published port");
  const forward = spawn([
    MAIN,
    "forward",
    "--config",
    join(dir, "operator.jsonc"),
    "bench",
    `${fwdSink}:127.0.0.1:${ports.sink}`,
    `${fwdEcho}:127.0.0.1:${ports.echo}`,
  ], "forward").proc;
  procs.push(forward);
  await ready(fwdEcho, "burrow forward");

  const paths = {
    "direct TCP": {
      bulk: (n: number) => tcpThroughput(ports.sink, n),
      connects: () => tcpConnects(ports.echo),
      hops: {},
    },
    "raw wss": {
      bulk: (n: number) => wssThroughput(ports.wss, certs.caCert, n),
      connects: () => wssConnects(ports.wss, certs.caCert),
      hops: {},
    },
    "2 TCP relays": {
      bulk: (n: number) => tcpThroughput(floorSink, n),
      connects: () => tcpConnects(floorEcho),
      hops: { "relay 1": echoRelays[0]!, "relay 2": echoRelays[1]! },
    },
    "published port": {
      bulk: (n: number) => tcpThroughput(pubSink, n),
      connects: () => tcpConnects(pubEcho),
      hops: { server, agent },
    },
    "burrow forward": {
      bulk: (n: number) => tcpThroughput(fwdSink, n),
      connects: () => tcpConnects(fwdEcho),
      hops: { operator: forward, server, agent },
    },
  };
  type Name = keyof typeof paths;
  /** Per path: bulk MiB/s, connect latencies, and CPU ms each process on the path used per connect. */
  const results = new Map<
    Name,
    { one: number[]; eight: number[]; lat: number[]; cpu: Record<string, number> }
  >();
  for (const name of Object.keys(paths) as Name[]) {
    results.set(name, { one: [], eight: [], lat: [], cpu: {} });
  }
  // Interleaved rounds: a busy moment of the machine hits every path alike.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [name, path] of Object.entries(paths) as [Name, typeof paths[Name]][]) {
      const one = ONLY_CONNECT ? 0 : await path.bulk(1);
      const eight = ONLY_CONNECT ? 0 : await path.bulk(8);
      const hops = Object.entries(path.hops as Record<string, Proc>);
      const cpuBefore = hops.map(([, p]) => cpuMs(p.pid));
      const lat = await path.connects();
      if (round === 0) continue; // warm-up
      const r = results.get(name)!;
      r.one.push(one);
      r.eight.push(eight);
      r.lat.push(...lat);
      hops.forEach(([hop, p], i) => {
        r.cpu[hop] = (r.cpu[hop] ?? 0) + (cpuMs(p.pid) - cpuBefore[i]!) / (ROUNDS * CONNECTS);
      });
    }
  }
  const wss1 = median(results.get("raw wss")!.one);
  console.log(
    `\nRemote access, ${
      TOTAL / MIB
    } MiB per run, median of ${ROUNDS} rounds, ${CONNECTS} connects per round`,
  );
  console.log(
    "path              1 conn MiB/s  % raw wss   8 conns MiB/s  connect p50 ms  p99 ms",
  );
  /** A bulk figure, or "-" when BENCH_ONLY=connect skipped the bulk runs. */
  const bulk = (text: string, width: number) => (ONLY_CONNECT ? "-" : text).padStart(width);
  for (const [name, r] of results) {
    const one = median(r.one);
    console.log(
      `${name.padEnd(16)} ${bulk(one.toFixed(0), 13)}  ${
        bulk(`${(one / wss1 * 100).toFixed(0)}%`, 9)
      }  ${bulk(median(r.eight).toFixed(0), 13)}  ${
        percentile(r.lat, 0.5).toFixed(2).padStart(14)
      }  ${percentile(r.lat, 0.99).toFixed(2).padStart(6)}`,
    );
  }
  console.log("\nCPU per connect (user + system, ms) of each process on the path:");
  for (const [name, r] of results) {
    const hops = Object.entries(r.cpu);
    if (hops.length === 0) continue;
    console.log(
      `  ${name.padEnd(16)} ${hops.map(([hop, ms]) => `${hop} ${ms.toFixed(2)}`).join(", ")}`,
    );
  }
  const pub = median(results.get("published port")!.one) / wss1;
  const fwd = median(results.get("burrow forward")!.one) / wss1;
  console.log(
    ONLY_CONNECT
      ? "\ntargets: (bulk skipped: BENCH_ONLY=connect)"
      : `\ntargets: published port 1 conn >= 60% of raw wss: ${(pub * 100).toFixed(0)}% ${
        pub >= 0.6 ? "met" : "NOT met"
      }; forward >= 35%: ${(fwd * 100).toFixed(0)}% ${fwd >= 0.35 ? "met" : "NOT met"}`,
  );
  for (const name of ["published port", "burrow forward"] as Name[]) {
    const p99 = percentile(results.get(name)!.lat, 0.99);
    console.log(
      `         ${name} connect p99 < 5 ms: ${p99.toFixed(2)} ms ${p99 < 5 ? "met" : "NOT met"}`,
    );
  }

  if (!ONLY_CONNECT) {
    const pubIdle = await idleCost(pubEcho, { server, agent });
    const fwdIdle = await idleCost(fwdEcho, { operator: forward, server, agent });
    console.log(
      `\nidle connection cost (RSS growth / ${IDLE} connections held, KiB each; target <= 64):`,
    );
    console.log(
      `  published port: server ${pubIdle.server!.toFixed(1)}, agent ${pubIdle.agent!.toFixed(1)}`,
    );
    console.log(
      `  burrow forward: operator ${fwdIdle.operator!.toFixed(1)}, server ${
        fwdIdle.server!.toFixed(1)
      }, agent ${fwdIdle.agent!.toFixed(1)}`,
    );
  }
} finally {
  for (const p of procs.reverse()) await p.stop();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
