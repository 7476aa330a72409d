/**
 * Multiplexer throughput: MB/s for 1 and 16 streams over an in-memory pair,
 * loopback TCP and loopback wss, each next to the raw transport measured in
 * the same run. Run with `deno task bench` (BENCH_MIB sets the volume).
 *
 * @module
 */

import { Session } from "../shared/mux/session.ts";
import type { Conn } from "../shared/transport/conn.ts";
import { fromDenoConn } from "../shared/transport/deno_conn.ts";
import { fromWebSocket } from "../shared/transport/websocket.ts";
import { memoryPair } from "../shared/transport/memory.ts";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import type { PeerJob } from "./peer_worker.ts";
import { SUBPROTOCOL } from "../shared/protocol.ts";

const MIB = 1024 * 1024;
const TOTAL = Number(Deno.env.get("BENCH_MIB") ?? 1024) * MIB;
const CHUNK = 64 * 1024;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 5);

/** Writes `bytes` in 64 KiB chunks (one reused buffer: writes copy or send before resolving). */
async function send(writable: WritableStream<Uint8Array>, bytes: number): Promise<void> {
  const writer = writable.getWriter();
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  for (let n = 0; n < bytes; n += CHUNK) await writer.write(chunk);
  await writer.close();
}

/** Sends TOTAL bytes over `conn`: raw (streams = 0) or split over mux streams. */
async function sendAll(conn: Conn, streams: number): Promise<Session | null> {
  if (streams === 0) {
    await send(conn.writable, TOTAL);
    return null;
  }
  const session = new Session(conn, { client: false });
  await Promise.all(Array.from({ length: streams }, async () => {
    const s = await session.open();
    await send(s.writable, TOTAL / streams);
  }));
  return session;
}

async function memoryRun(streams: number): Promise<number> {
  const [a, b] = memoryPair();
  const start = performance.now();
  let received = 0;
  const receiving = (async () => {
    if (streams === 0) {
      for await (const c of b.readable) received += c.length;
      return;
    }
    const session = new Session(b, { client: true });
    const drains = [];
    for (let i = 0; i < streams; i++) {
      const s = (await session.accept())!;
      drains.push((async () => {
        for await (const c of s.readable) received += c.length;
      })());
    }
    await Promise.all(drains);
    await session.close();
  })();
  const session = await sendAll(a, streams);
  await receiving;
  const ms = performance.now() - start;
  await session?.close();
  check(received);
  return ms;
}

function check(received: number): void {
  if (received !== TOTAL) throw new Error(`Received ${received} of ${TOTAL} bytes`);
}

/** Runs the receiver in a worker; `accept` yields the sender's end of the connection. */
async function workerRun(
  job: Omit<PeerJob, "port">,
  port: number,
  accept: () => Promise<Conn>,
): Promise<number> {
  const worker = new Worker(new URL("./peer_worker.ts", import.meta.url), { type: "module" });
  try {
    const messages: ((m: Record<string, unknown>) => void)[] = [];
    const next = () => new Promise<Record<string, unknown>>((r) => messages.push(r));
    worker.onmessage = (e) => messages.shift()?.(e.data);
    const ready = next();
    worker.postMessage({ ...job, port });
    const conn = await accept();
    await ready;
    const done = next();
    const start = performance.now();
    const session = await sendAll(conn, job.streams);
    const result = await done;
    const ms = performance.now() - start;
    await session?.close();
    if (typeof result.error === "string") throw new Error(result.error);
    check(result.received as number);
    return ms;
  } finally {
    worker.terminate();
  }
}

async function tcpRun(streams: number): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return await workerRun(
      { transport: "tcp", streams, caCert: "" },
      listener.addr.port,
      async () => {
        const conn = await listener.accept();
        return fromDenoConn(conn);
      },
    );
  } finally {
    listener.close();
  }
}

const certs = await makeCertificates({ hostnames: ["localhost", "127.0.0.1"] });

async function wssRun(streams: number): Promise<number> {
  const sockets = Promise.withResolvers<WebSocket>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: certs.cert,
    key: certs.key,
    onListen() {},
  }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: SUBPROTOCOL });
    sockets.resolve(socket);
    return response;
  });
  try {
    return await workerRun(
      { transport: "wss", streams, caCert: certs.caCert },
      server.addr.port,
      async () => fromWebSocket(await sockets.promise),
    );
  } finally {
    await server.shutdown();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * MiB/s for raw, 1 stream and 16 streams. One warm-up run of each first (JIT,
 * TLS session setup), then the three modes interleaved round by round, so a
 * slow phase of the machine hits all of them alike.
 */
async function measure(run: (streams: number) => Promise<number>): Promise<number[]> {
  const modes = [0, 1, 16];
  for (const m of modes) await run(m);
  const times: number[][] = modes.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < modes.length; i++) times[i]!.push(await run(modes[i]!));
  }
  return times.map((t) => TOTAL / MIB / (median(t) / 1000));
}

const transports: [string, (streams: number) => Promise<number>][] = [
  ["memory", memoryRun],
  ["tcp", tcpRun],
  ["wss", wssRun],
];
const only = Deno.env.get("BENCH_ONLY");
console.log(
  `mux throughput, ${TOTAL / MIB} MiB per run, 64 KiB writes, median of ${ROUNDS} (MiB/s)`,
);
console.log("(memory raw only hands chunk references across: its ratio is a cost, not a target)");
console.log("transport   raw      1 stream  ratio   16 streams  ratio");
for (const [name, run] of transports) {
  if (only && only !== name) continue;
  const [raw, one, sixteen] = (await measure(run)) as [number, number, number];
  console.log(
    `${name.padEnd(9)} ${raw.toFixed(0).padStart(6)}  ${one.toFixed(0).padStart(8)}  ${
      (one / raw * 100).toFixed(0).padStart(4)
    }%  ${sixteen.toFixed(0).padStart(10)}  ${(sixteen / raw * 100).toFixed(0).padStart(4)}%`,
  );
}
