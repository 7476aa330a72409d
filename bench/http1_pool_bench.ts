/**
 * Http1Pool against `fetch`, both with keep-alive, on one loopback backend
 * (Deno.serve answering "hello world\n" in a subprocess): sequential and
 * concurrent GETs, wall time and this process's CPU time per request.
 *
 * Run: `deno run -A bench/http1_pool_bench.ts [requests] [concurrency]`
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { Http1Pool } from "../agent/http1/pool.ts";
import type { Http1Request } from "../agent/http1/types.ts";

const BACKEND = `
Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(port) },
  () => new Response("hello world\\n"));
`;

/** One way of sending a GET and reading its body to the end. */
type Get = () => Promise<void>;

async function run(get: Get, total: number, concurrency: number) {
  const each = Math.ceil(total / concurrency);
  const cpu = cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < each; i++) await get();
    }),
  );
  const ms = performance.now() - start;
  const used = cpuUsage(cpu);
  const n = each * concurrency;
  return { wallUs: (ms * 1000) / n, cpuUs: (used.user + used.system) / n, rps: n / (ms / 1000) };
}

async function main() {
  const total = Number(Deno.args[0] ?? 20_000);
  const concurrency = Number(Deno.args[1] ?? 16);
  const backend = new Deno.Command(Deno.execPath(), {
    args: ["eval", BACKEND],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = backend.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value?.trim());
  reader.releaseLock();

  const pool = new Http1Pool();
  const url = `http://127.0.0.1:${port}/`;
  const req: Http1Request = {
    hostname: "127.0.0.1",
    port,
    method: "GET",
    target: "/",
    headers: [["host", `127.0.0.1:${port}`], ["user-agent", "bench"], ["accept", "*/*"]],
    body: null,
  };
  const gets: [string, Get][] = [
    ["Http1Pool", async () => {
      const res = await pool.request(req);
      while (await res.body?.read());
    }],
    ["fetch", async () => {
      const res = await fetch(url, { headers: { "user-agent": "bench", accept: "*/*" } });
      await res.arrayBuffer();
    }],
  ];
  try {
    for (const [, get] of gets) await run(get, 2000, concurrency);
    console.log(`${total} GETs of "hello world\\n" from Deno.serve (subprocess), keep-alive`);
    for (const c of [1, concurrency]) {
      for (const [name, get] of gets) {
        const r = await run(get, total, c);
        console.log(
          `${name.padEnd(9)} c=${String(c).padEnd(3)} ${
            r.wallUs.toFixed(1).padStart(6)
          } µs/req wall` +
            `  ${r.cpuUs.toFixed(1).padStart(6)} µs/req client CPU  ${
              r.rps.toFixed(0).padStart(6)
            } req/s`,
        );
      }
    }
  } finally {
    await pool.close();
    backend.kill();
    await backend.status;
    await backend.stdout.cancel().catch(() => {});
  }
}

if (import.meta.main) await main();
