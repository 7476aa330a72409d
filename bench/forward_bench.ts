/**
 * TcpForward, agent side: bulk throughput (1 and 8 connections) and open
 * latency (p50/p99: open message → agent resolves, checks, dials → OK) of
 * forwards through one mux hop to a loopback TCP sink, next to direct TCP
 * to the same sink, measured in the same run. Opener, agent and sink share
 * one process, so the figures are a floor. Run:
 * `deno run -A bench/forward_bench.ts` (BENCH_MIB sets the volume per run).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Session } from "../shared/mux/session.ts";
import { fromDenoConn } from "../shared/transport/deno_conn.ts";
import { serveStream, StreamKind } from "../shared/open/mod.ts";
import { connChannel, openTcpForward } from "../shared/forward/mod.ts";
import { Allowlist } from "../agent/forward/allowlist.ts";
import { createTcpForwardHandler } from "../agent/forward/tcp.ts";

const MIB = 1024 * 1024;
const TOTAL = Number(Deno.env.get("BENCH_MIB") ?? 512) * MIB;
const CHUNK = 64 * 1024;
const OPENS = 300;

/** A sink: reads everything, then closes. */
const sink = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const sinking = (async () => {
  for await (const conn of sink) {
    (async () => {
      const ch = connChannel(conn, 256 * 1024);
      while ((await ch.read()) !== null) { /* drop */ }
      ch.close();
    })();
  }
})().catch(() => {});

/** Writes `bytes` to `write` in 64 KiB chunks. */
async function pour(write: (c: Uint8Array) => Promise<unknown>, bytes: number): Promise<void> {
  const chunk = new Uint8Array(CHUNK).fill(0x5a);
  for (let n = 0; n < bytes; n += CHUNK) await write(chunk);
}

async function direct(conns: number): Promise<number> {
  const start = performance.now();
  await Promise.all(Array.from({ length: conns }, async () => {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: sink.addr.port });
    const ch = connChannel(c);
    await pour((x) => ch.write(x), TOTAL / conns);
    await c.closeWrite();
    while ((await ch.read()) !== null) { /* wait for the sink's close */ }
    ch.close();
  }));
  return TOTAL / MIB / ((performance.now() - start) / 1000);
}

/** An opener and an agent session over loopback TCP. */
async function sessions(): Promise<[Session, Session]> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = l.accept();
  const a = await Deno.connect({ hostname: "127.0.0.1", port: l.addr.port });
  const b = await accepted;
  l.close();
  const agent = new Session(fromDenoConn(a), { client: true });
  const opener = new Session(fromDenoConn(b), { client: false });
  const handlers = new Map([[
    StreamKind.TcpForward,
    createTcpForwardHandler({
      allowlist: new Allowlist(),
      connectTimeout: 5000,
      log: getLogger(["bench"]),
    }),
  ]]);
  (async () => {
    for (let s = await agent.accept(); s !== null; s = await agent.accept()) {
      serveStream(s, handlers);
    }
  })();
  return [opener, agent];
}

async function forward(opener: Session, conns: number): Promise<number> {
  const start = performance.now();
  await Promise.all(Array.from({ length: conns }, async () => {
    const f = await openTcpForward(opener, "127.0.0.1", sink.addr.port);
    await pour((x) => f.stream.write(x), TOTAL / conns);
    f.stream.closeWrite();
    while ((await f.stream.read()) !== null) { /* the sink's close */ }
  }));
  return TOTAL / MIB / ((performance.now() - start) / 1000);
}

async function openLatency(opener: Session): Promise<[number, number]> {
  const times: number[] = [];
  for (let i = 0; i < OPENS; i++) {
    const t0 = performance.now();
    const f = await openTcpForward(opener, "127.0.0.1", sink.addr.port);
    times.push(performance.now() - t0);
    f.stream.closeWrite();
    while ((await f.stream.read()) !== null) { /* the sink's close */ }
  }
  times.sort((x, y) => x - y);
  return [times[Math.floor(OPENS * 0.5)]!, times[Math.floor(OPENS * 0.99)]!];
}

/**
 * Memory per idle forward, all three parties in this process (opener
 * stream, agent stream + socket + read buffer, the target's socket): heap
 * plus external bytes after `IDLE` forwards sit open, minus before, per forward.
 */
async function idleCost(opener: Session): Promise<number> {
  const IDLE = 500;
  const held: Deno.Conn[] = [];
  const target = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const holding = (async () => {
    for await (const c of target) held.push(c);
  })().catch(() => {});
  const used = () => {
    const m = Deno.memoryUsage();
    return m.heapUsed + m.external;
  };
  // deno-lint-ignore no-explicit-any
  const gc = (globalThis as any).gc as (() => void) | undefined;
  gc?.();
  const before = used();
  const forwards = [];
  for (let i = 0; i < IDLE; i++) {
    forwards.push(await openTcpForward(opener, "127.0.0.1", target.addr.port));
  }
  gc?.();
  const per = (used() - before) / IDLE;
  for (const f of forwards) f.stream.reset();
  target.close();
  for (const c of held) c.close();
  await holding;
  return per;
}

const [opener, agent] = await sessions();
// First, while nothing else has run: the heap holds nothing left from the bulk runs.
const idle = await idleCost(opener);
const rows: string[] = [];
for (const conns of [1, 8]) {
  const d = await direct(conns);
  const f = await forward(opener, conns);
  rows.push(
    `| ${conns} | ${d.toFixed(0)} | ${f.toFixed(0)} | ${(f / d * 100).toFixed(0)}% |`,
  );
}
const [p50, p99] = await openLatency(opener);
console.log(`TcpForward over one loopback TCP mux hop, ${TOTAL / MIB} MiB per run`);
console.log("| connections | direct TCP MB/s | forward MB/s | ratio |\n| --- | --- | --- | --- |");
console.log(rows.join("\n"));
console.log(
  `open → OK (agent dials): p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms over ${OPENS}`,
);
console.log(
  `idle forward: ${(idle / 1024).toFixed(1)} KiB of heap + external per forward, ` +
    "opener, agent and target sides together" +
    ("gc" in globalThis ? "" : " (run with --v8-flags=--expose-gc for a steadier figure)"),
);
await opener.close();
await agent.close();
sink.close();
await sinking;
