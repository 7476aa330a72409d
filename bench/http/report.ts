/**
 * The output of the HTTP bench: the setup lines printed before measuring, and
 * the table, targets, layouts and problems printed after.
 *
 * @module
 */

import { describe, type Layout, LAYOUT_NAMES, other } from "./layout.ts";
import { BULK_MIB, DURATION, SINGLE_DURATION, WARMUP } from "./settings.ts";
import type { CurlResult, WrkResult } from "./tools.ts";

/** Direct and tunnel results of one case, labelled for the table. */
export type Pair<T> = {
  name: string;
  direct: T;
  tunnel: T;
  /** Cores each process kept busy during the tunnel run, when metered. */
  cores?: [string, number][];
};

/** Everything measured in one run. */
export interface Results {
  /** The layout of the full run. */
  layout: Layout;
  wrks: Pair<WrkResult>[];
  bulk: Pair<CurlResult> | null;
  /** Small responses with the other layout; null when skipped. */
  other: Pair<WrkResult> | null;
  /**
   * The backend itself behind Deno's TLS server, no tunnel: the ceiling any
   * HTTPS front reaches here (its `direct` is the plain-HTTP run of the same case).
   */
  front: { wrks: Pair<WrkResult>[]; bulk: Pair<CurlResult> | null };
  /**
   * The tunnel's architecture with none of Burrow's features
   * (`floor_tunnel.ts`), small and 1 MiB, each next to its own direct run.
   */
  floor: Pair<WrkResult>[];
}

/** `n` with `digits` decimals. */
export const fmt = (n: number, digits = 0): string => n.toFixed(digits);
const ms = (n: number) => n < 10 ? `${n.toFixed(2)}ms` : `${n.toFixed(1)}ms`;
const verdict = (ok: boolean) => ok ? "PASS" : "FAIL";

function row(name: string, direct: WrkResult, tunnel: WrkResult): string {
  return [
    name.padEnd(13),
    fmt(direct.rps).padStart(7),
    ms(direct.p50).padStart(8),
    ms(direct.p99).padStart(8),
    fmt(tunnel.rps).padStart(9),
    ms(tunnel.p50).padStart(8),
    ms(tunnel.p99).padStart(8),
    `${fmt(tunnel.rps / direct.rps * 100)}%`.padStart(7),
    `${fmt(tunnel.p99 / direct.p99, 1)}x`.padStart(6),
  ].join(" ");
}

function layoutRow(layout: Layout, p: Pair<WrkResult>): string {
  return [
    `  ${LAYOUT_NAMES[layout]}`.padEnd(31),
    fmt(p.direct.rps).padStart(7),
    fmt(p.tunnel.rps).padStart(7),
    `${fmt(p.tunnel.rps / p.direct.rps * 100)}%`.padStart(6),
    ms(p.tunnel.p50).padStart(8),
    ms(p.tunnel.p99).padStart(8),
    `${fmt(p.tunnel.p99 / p.direct.p99, 1)}x`.padStart(10),
  ].join(" ");
}

/** `wrk 0.93, server 0.41, …`, or null where CPU times could not be read. */
function coresLine(cores: [string, number][] | undefined): string | null {
  if (cores === undefined || !cores.every(([, c]) => Number.isFinite(c))) return null;
  return cores.map(([name, c]) => `${name} ${fmt(c, 2)}`).join(", ");
}

/** Small responses by layout, two processes first, each with the cores its processes kept busy. */
function reportLayouts({ layout, wrks, other: second }: Results): void {
  console.log(
    `small by layout (-t2 -c50 -d${DURATION}, each tunnel run next to its own direct run):`,
  );
  console.log("  layout                        direct  tunnel  ratio  tun p50  tun p99  p99 ratio");
  const rows: [Layout, Pair<WrkResult>][] = [[layout, wrks[0]!]];
  if (second !== null) rows.push([other(layout), second]);
  if (layout === "one") rows.reverse();
  for (const [l, p] of rows) {
    console.log(layoutRow(l, p));
    const cores = coresLine(p.cores);
    if (cores !== null) {
      console.log(
        `      cores busy in the tunnel run (of ${navigator.hardwareConcurrency}): ${cores}`,
      );
    }
  }
  const name = LAYOUT_NAMES[other(layout)];
  if (second === null) console.log(`  ${name}: skipped (BENCH_OTHER_LAYOUT=0)`);
  else {console.log(
      `  ${name}: measured last, with fresh processes;`,
      describe(other(layout))[0]!.trim(),
    );}
}

function reportTargets(layout: Layout, wrks: Pair<WrkResult>[]): void {
  const [small, big] = [wrks[0]!, wrks[1]!];
  const smallRatio = small.tunnel.rps / small.direct.rps;
  const p99Ratio = small.tunnel.p99 / small.direct.p99;
  const bigRatio = big.tunnel.rps / big.direct.rps;
  console.log(`targets (${LAYOUT_NAMES[layout]}):`);
  console.log(
    `  small req/s >= 25% of direct: ${fmt(smallRatio * 100)}%  ${verdict(smallRatio >= 0.25)}`,
  );
  console.log(`  small p99 < 3x direct:        ${fmt(p99Ratio, 1)}x  ${verdict(p99Ratio < 3)}`);
  console.log(
    `  1 MiB req/s >= 30% of direct: ${fmt(bigRatio * 100)}%  ${verdict(bigRatio >= 0.3)}`,
  );
}

/** Non-2xx responses, socket errors and failed exits of every run, labelled. */
function problems({ layout, wrks, bulk, other: second, front, floor }: Results): string[] {
  const pairs: Pair<WrkResult | CurlResult>[] = [...wrks];
  if (bulk !== null) pairs.push(bulk);
  for (const p of front.wrks) pairs.push({ ...p, name: `${p.name} (HTTPS front alone)` });
  for (const p of floor) pairs.push({ ...p, name: `${p.name} (floor)` });
  if (front.bulk !== null) pairs.push({ ...front.bulk, name: "bulk (HTTPS front alone)" });
  if (second !== null) pairs.push({ ...second, name: `small, ${LAYOUT_NAMES[other(layout)]}` });
  return pairs.flatMap((p) => [
    ...p.direct.problems.map((e) => `${p.name} direct: ${e}`),
    ...p.tunnel.problems.map((e) => `${p.name} tunnel: ${e}`),
  ]);
}

/** The HTTPS-front baseline: what Deno's TLS server alone makes of each case. */
function reportFront(front: Results["front"]): void {
  const pct = (a: number, b: number) => `${fmt(a / b * 100)}%`;
  console.log(
    "HTTPS front alone (the backend served by Deno.serve with TLS, no tunnel), % of direct:",
  );
  for (const p of front.wrks) {
    console.log(
      `  ${p.name.padEnd(14)}${fmt(p.tunnel.rps).padStart(8)} req/s (${
        pct(p.tunnel.rps, p.direct.rps)
      }), p99 ${ms(p.tunnel.p99)}`,
    );
  }
  if (front.bulk !== null) {
    console.log(
      `  bulk          ${fmt(front.bulk.tunnel.mbps).padStart(8)} MB/s (${
        pct(front.bulk.tunnel.mbps, front.bulk.direct.mbps)
      })`,
    );
  }
}

/**
 * The architecture's floor: what a tunnel of the same parts (TLS front, wss,
 * mux stream per request, keep-alive pool) makes of each case with none of
 * Burrow's features, and how much of it Burrow keeps.
 */
function reportFloor({ floor, wrks }: Results): void {
  if (floor.length === 0) return;
  console.log(
    "architecture floor (floor_tunnel.ts: Deno.serve TLS -> wss + Burrow's mux, a stream per request -> keep-alive pool; no Burrow features):",
  );
  console.log("  case          req/s  of direct  p99 vs direct  Burrow's req/s as % of floor");
  for (const p of floor) {
    const burrow = wrks.find((w) => w.name === p.name);
    const kept = burrow === undefined ? "-" : `${fmt(burrow.tunnel.rps / p.tunnel.rps * 100)}%`;
    console.log(
      `  ${p.name.padEnd(12)}${fmt(p.tunnel.rps).padStart(7)}  ${
        `${fmt(p.tunnel.rps / p.direct.rps * 100)}%`.padStart(9)
      }  ${`${fmt(p.tunnel.p99 / p.direct.p99, 1)}x`.padStart(13)}  ${kept.padStart(6)}`,
    );
  }
}

/**
 * Prints the results table, bulk speed, targets, layouts, problems and what
 * the helper processes said (`notes`).
 *
 * @example
 * ```ts
 * report(await run("two", notes), notes);
 * ```
 */
export function report(results: Results, notes: string[]): void {
  const { layout, wrks, bulk } = results;
  console.log(
    "case          direct: req/s    p50      p99  tunnel: req/s  p50      p99    req/s   p99",
  );
  for (const p of wrks) console.log(row(p.name, p.direct, p.tunnel));
  if (bulk === null) console.log("bulk: skipped, curl is not installed");
  else {
    console.log(
      `bulk ${BULK_MIB} MiB (curl, 1 connection): direct ${fmt(bulk.direct.mbps)} MB/s, tunnel ${
        fmt(bulk.tunnel.mbps)
      } MB/s (${fmt(bulk.tunnel.mbps / bulk.direct.mbps * 100)}%)`,
    );
  }
  reportTargets(layout, wrks);
  reportFront(results.front);
  reportFloor(results);
  reportLayouts(results);
  const found = problems(results);
  console.log(found.length === 0 ? "problems: none" : "PROBLEMS (these figures are suspect):");
  for (const p of found) console.log(`  ${p}`);
  if (notes.length > 0) console.log("helper processes said:");
  for (const n of notes) console.log(`  ${n}`);
}

/**
 * Prints how the bench loads the tunnel and which process does what.
 *
 * @example
 * ```ts
 * printSetup("two");
 * ```
 */
export function printSetup(layout: Layout): void {
  console.log(
    `HTTP, tunnel vs direct: wrk --latency, -t2 -c50 -d${DURATION} (1 conn: -t1 -c1 -d${SINGLE_DURATION}), after ${WARMUP} warm-ups`,
  );
  console.log(`layout: ${LAYOUT_NAMES[layout]}`);
  for (const line of describe(layout)) console.log(line);
  console.log(
    `  load average at start ${
      Deno.loadavg()[0]!.toFixed(2)
    } (other work on the machine skews the figures)`,
  );
}
