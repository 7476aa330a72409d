/**
 * HTTP through the tunnel next to the same backend reached directly, measured
 * in the same run: `wrk` for requests per second and latency (12-byte and
 * 1 MiB responses), `curl` on one connection for bulk download MB/s.
 *
 * Processes besides wrk and curl, all on this host: the backend
 * (`http_backend.ts`), the Burrow server and the Burrow agent (`http_tunnel.ts
 * server` and `http_tunnel.ts agent`: two processes, as in any deployment),
 * and this one, which only starts things and waits. The backend is a process
 * rather than a Worker so it has its own heap and GC, as a real backend would.
 * Then the same backend behind Deno's own TLS server, no tunnel ("HTTPS front
 * alone"): the ceiling of any HTTPS front here, next to the plain-HTTP figures
 * the targets are ratios of.
 *
 * `BENCH_ONE_PROCESS=1` runs server and agent in one process instead
 * (`http_tunnel.ts both`: one JavaScript thread does the work of both). After
 * the full run, small responses are measured once more with the other layout,
 * so one run shows both; `BENCH_OTHER_LAYOUT=0` skips that. Run with `deno task
 * bench`; without `wrk` on the PATH it says so and exits 0.
 *
 * The parts live in `http/`: helper processes (`children.ts`), CPU accounting
 * (`cpu.ts`), wrk and curl (`tools.ts`), layouts (`layout.ts`), the output
 * (`report.ts`) and settings (`settings.ts`); this file runs the cases.
 *
 * @module
 */

import { dirname } from "node:path";
import { Processes } from "./http/children.ts";
import { coresBusy, type Meter, meterOf } from "./http/cpu.ts";
import { type Layout, other, startFloor, startTunnel, type Urls } from "./http/layout.ts";
import { fmt, type Pair, printSetup, report, type Results } from "./http/report.ts";
import {
  BULK_MIB,
  DOMAIN,
  DURATION,
  OTHER_LAYOUT,
  SINGLE_DURATION,
  WARMUP,
} from "./http/settings.ts";
import { curl, type CurlResult, has, wrk, type WrkOptions, type WrkResult } from "./http/tools.ts";

export { parseWrk } from "./http/tools.ts";

const BACKEND = new URL("./http_backend.ts", import.meta.url);
const LOAD: WrkOptions = { threads: 2, connections: 50, duration: DURATION };

/** One wrk case, direct then tunnel; with `meter`, the CPU of the tunnel run too. */
async function wrkPair(
  name: string,
  urls: Urls,
  path: string,
  opts: WrkOptions & { meter?: Meter },
): Promise<Pair<WrkResult>> {
  const direct = await wrk(`${urls.direct}${path}`, opts);
  const before = opts.meter?.();
  const start = performance.now();
  const tunnel = await wrk(`${urls.tunnel}${path}`, { ...opts, host: DOMAIN });
  if (before === undefined) return { name, direct, tunnel };
  const cores = coresBusy(before, opts.meter!(), (performance.now() - start) / 1000);
  return { name, direct, tunnel, cores };
}

async function bulkPair(urls: Urls): Promise<Pair<CurlResult>> {
  const bytes = BULK_MIB * 1024 * 1024;
  return {
    name: "bulk",
    direct: await curl(`${urls.direct}/bulk`, { args: [], bytes }),
    tunnel: await curl(`${urls.tunnel}/bulk`, {
      args: ["--cacert", urls.caFile, "-H", `Host: ${DOMAIN}`],
      bytes,
    }),
  };
}

/** The full set of runs; the small tunnel run is metered. */
async function measure(
  urls: Urls,
  opts: { withCurl: boolean; meter: Meter },
): Promise<Pick<Results, "wrks" | "bulk">> {
  for (const path of ["/small", "/1m"]) {
    await wrkPair("warm-up", urls, path, { ...LOAD, duration: WARMUP });
  }
  const wrks = [
    await wrkPair("small", urls, "/small", { ...LOAD, meter: opts.meter }),
    await wrkPair("1 MiB", urls, "/1m", LOAD),
    await wrkPair("small, 1 conn", urls, "/small", {
      threads: 1,
      connections: 1,
      duration: SINGLE_DURATION,
    }),
  ];
  return { wrks, bulk: opts.withCurl ? await bulkPair(urls) : null };
}

/**
 * The backend behind Deno's TLS server (certificate from `tlsDir`), each case
 * next to its plain-HTTP run: the ceiling of any HTTPS front on this machine.
 */
async function measureFront(
  procs: Processes,
  direct: string,
  opts: { tlsDir: string; caFile: string; withCurl: boolean },
): Promise<Results["front"]> {
  const front = await procs.start("HTTPS backend", {
    script: BACKEND,
    env: { BENCH_BULK_MIB: String(BULK_MIB), BENCH_TLS_DIR: opts.tlsDir },
  });
  const urls: Urls = { direct, tunnel: `https://127.0.0.1:${front.port}`, caFile: opts.caFile };
  await wrkPair("warm-up", urls, "/small", { ...LOAD, duration: WARMUP });
  const wrks = [
    await wrkPair("small", urls, "/small", LOAD),
    await wrkPair("1 MiB", urls, "/1m", LOAD),
  ];
  return { wrks, bulk: opts.withCurl ? await bulkPair(urls) : null };
}

/**
 * The architecture's floor (`floor_tunnel.ts`), small and 1 MiB, each next to
 * its own direct run: what the required parts cost without Burrow's features.
 */
async function measureFloor(procs: Processes, direct: string): Promise<Results["floor"]> {
  const urls = await startFloor(procs, direct);
  await wrkPair("warm-up", urls, "/small", { ...LOAD, duration: WARMUP });
  return [await wrkPair("small", urls, "/small", LOAD), await wrkPair("1 MiB", urls, "/1m", LOAD)];
}

/** Starts backend and tunnel, measures, and stops them all (also on failure). */
async function run(layout: Layout, notes: string[]): Promise<Results> {
  const withCurl = await has("curl");
  await using backendProcs = new Processes(notes);
  const backend = await backendProcs.start("backend", {
    script: BACKEND,
    env: { BENCH_BULK_MIB: String(BULK_MIB) },
  });
  const direct = `http://127.0.0.1:${backend.port}`;
  let measured: Pick<Results, "wrks" | "bulk" | "front" | "floor">;
  {
    await using tunnel = new Processes(notes);
    const urls = await startTunnel(tunnel, layout, direct);
    printSetup(layout);
    const tunnelRuns = await measure(urls, { withCurl, meter: meterOf(tunnel, backendProcs) });
    // The server's certificate and key sit next to its CA file.
    const tlsDir = dirname(urls.caFile);
    await using frontProcs = new Processes(notes);
    const front = await measureFront(frontProcs, direct, { tlsDir, caFile: urls.caFile, withCurl });
    measured = { ...tunnelRuns, front, floor: [] };
  }
  {
    await using floorProcs = new Processes(notes);
    measured.floor = await measureFloor(floorProcs, direct);
  }
  if (!OTHER_LAYOUT) return { layout, ...measured, other: null };
  await using tunnel = new Processes(notes);
  const urls = await startTunnel(tunnel, other(layout), direct);
  await wrkPair("warm-up", urls, "/small", { ...LOAD, duration: WARMUP });
  const meter = meterOf(tunnel, backendProcs);
  return { layout, ...measured, other: await wrkPair("small", urls, "/small", { ...LOAD, meter }) };
}

async function main(): Promise<void> {
  if (!(await has("wrk"))) {
    console.log("HTTP bench skipped: wrk is not installed (Debian: apt-get install wrk)");
    return;
  }
  const started = performance.now();
  const layout: Layout = Deno.env.get("BENCH_ONE_PROCESS") === "1" ? "one" : "two";
  const notes: string[] = [];
  let results: Results | undefined;
  try {
    results = await run(layout, notes);
  } finally {
    // On failure, what the helpers said goes with the error.
    if (results === undefined) { for (const n of notes) console.error(n); }
  }
  report(results, notes);
  console.log(`HTTP bench took ${fmt((performance.now() - started) / 1000)} s`);
}

if (import.meta.main) await main();
