/**
 * What a flood of wrong Basic-auth passwords does to another domain (issue 9,
 * items 2 and 5). Run by hand: `deno run -A bench/auth_flood.ts [RATE...]`.
 *
 * A child process runs a server, an agent and a backend (the `World` of the
 * e2e tests) with two domains: `open.test` (no credentials) and `locked.test`
 * (user `bob` with a `$6$` password). This process then, for each flood rate
 * (wrong passwords per second; default `0 20 49`), sends one request to
 * `open.test` every 10 ms for `BENCH_SECONDS` (default 6) while a flooder
 * sends random passwords for `bob` to `locked.test` at that rate, and prints
 * p50/p99 of the `open.test` requests. It then times single wrong-password
 * requests for `bob` (an existing user) and for `nobody` (an unknown one).
 *
 * `BENCH_SERVER_KEYS` (JSON) adds keys to the server's main file, e.g.
 * `{"limits":{"authFailures":{"perAddress":0,"perAccount":0}}}` to switch the
 * failure limiter off and measure the worker pool alone.
 *
 * @module
 */

import { hashSecret } from "../shared/auth/secret.ts";

/** What the child prints once ready. */
interface Ready {
  port: number;
  caCert: string;
}

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "6");
const PROBE_INTERVAL = 10;
/** Flood requests allowed in flight; beyond it the flooder skips a beat (and counts it). */
const MAX_FLOOD_IN_FLIGHT = 64;

if (Deno.args[0] === "--child") await child();
else await main();

/** The server side: a World with two served domains; stops when stdin closes. */
async function child(): Promise<void> {
  const { World } = await import("../tests/e2e/world.ts");
  const keys = JSON.parse(Deno.env.get("BENCH_SERVER_KEYS") ?? "{}");
  const world = await World.create(keys);
  const backend = world.backend(() => new Response("ok"));
  const secret = "bench-secret-0123456789";
  await world.domain("open.test", { active: true, secret, concurrency: 1000 });
  await world.domain("locked.test", {
    active: true,
    secret,
    concurrency: 1000,
    clients: { credentials: [`bob:${hashSecret("correct horse battery")}`] },
  });
  await world.agent({
    domains: {
      "open.test": { secret, targets: [{ target: backend.url }] },
      "locked.test": { secret, targets: [{ target: backend.url }] },
    },
  });
  const ready: Ready = { port: world.port, caCert: world.caCert };
  console.log(JSON.stringify(ready));
  for await (const _ of Deno.stdin.readable) { /* until the parent closes stdin */ }
  await world.close();
}

/** Percentile `p` (0–1) of sorted `values`. */
function percentile(values: number[], p: number): number {
  return values[Math.min(values.length - 1, Math.floor(p * values.length))] ?? NaN;
}

async function main(): Promise<void> {
  const rates = Deno.args.length > 0 ? Deno.args.map(Number) : [0, 20, 49];
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--child"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The server process ended before it was ready");
    text += value;
  }
  const ready = JSON.parse(text.slice(0, text.indexOf("\n"))) as Ready;
  const client = Deno.createHttpClient({ caCerts: [ready.caCert], allowHost: true });
  const get = async (host: string, headers: Record<string, string> = {}) => {
    const t0 = performance.now();
    const res = await fetch(`https://127.0.0.1:${ready.port}/`, {
      headers: { host, ...headers },
      client,
    });
    await res.body?.cancel();
    return { ms: performance.now() - t0, status: res.status };
  };
  const wrong = () => ({
    authorization: `Basic ${btoa(`bob:${crypto.randomUUID()}`)}`,
  });
  try {
    for (let i = 0; i < 20; i++) await get("open.test"); // warm up connections
    const timing = async (user: string) => {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const authorization = `Basic ${btoa(`${user}:${crypto.randomUUID()}`)}`;
        times.push((await get("locked.test", { authorization })).ms);
      }
      times.sort((a, b) => a - b);
      return percentile(times, 0.5).toFixed(1);
    };
    const baseline = [];
    for (let i = 0; i < 20; i++) baseline.push((await get("open.test")).ms);
    baseline.sort((a, b) => a - b);
    console.log(
      `median of 20 wrong-password requests, ms: existing user ${await timing("bob")}, ` +
        `unknown user ${await timing("nobody")}, open.test (no auth) ${
          percentile(baseline, 0.5).toFixed(1)
        }`,
    );
    console.log(`flood rate/s | open.test p50 ms | p99 ms | max ms | probes | flood statuses`);
    for (const rate of rates) {
      const statuses = new Map<number, number>();
      let flooding = rate > 0;
      let inFlight = 0;
      let skipped = 0;
      const floods: Promise<void>[] = [];
      const flood = (async () => {
        const start = performance.now();
        for (let n = 0; flooding; n++) {
          const due = start + (n * 1000) / rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          if (inFlight >= MAX_FLOOD_IN_FLIGHT) {
            skipped++;
            continue;
          }
          inFlight++;
          floods.push(
            get("locked.test", wrong()).then(
              (r) => void statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1),
              () => void statuses.set(0, (statuses.get(0) ?? 0) + 1),
            ).finally(() => inFlight--),
          );
        }
      })();
      const latencies: number[] = [];
      const probeStatuses = new Map<number, number>();
      const end = performance.now() + SECONDS * 1000;
      while (performance.now() < end) {
        const r = await get("open.test");
        latencies.push(r.ms);
        probeStatuses.set(r.status, (probeStatuses.get(r.status) ?? 0) + 1);
        await new Promise((r) => setTimeout(r, PROBE_INTERVAL));
      }
      flooding = false;
      await flood;
      await Promise.all(floods);
      latencies.sort((a, b) => a - b);
      const show = (m: Map<number, number>) => [...m].map(([k, v]) => `${k}×${v}`).join(" ");
      const s = `${show(statuses) || "-"}${
        skipped > 0 ? ` (${skipped} not sent: ${MAX_FLOOD_IN_FLIGHT} in flight)` : ""
      }`;
      console.log(
        `${rate} | ${percentile(latencies, 0.5).toFixed(1)} | ${
          percentile(latencies, 0.99).toFixed(1)
        } | ${latencies.at(-1)!.toFixed(1)} | ${latencies.length} ${show(probeStatuses)} | ${s}`,
      );
    }
  } finally {
    client.close();
    await proc.stdin.close();
    await reader.cancel();
    await proc.status;
  }
}
