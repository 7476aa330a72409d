/**
 * CPU accounting of the HTTP bench from `/proc`: how many cores wrk and each
 * helper process kept busy during a run.
 *
 * @module
 */

import type { Processes } from "./children.ts";

/** Linux's USER_HZ: the unit of CPU times in `/proc/<pid>/stat`. */
const CLK_TCK = 100;

/**
 * CPU seconds (user + system) used so far by process `pid`, or with
 * `"children"` by this process's children that were waited for (wrk and curl:
 * helpers are waited for only at the end). NaN where there is no `/proc`.
 *
 * @example
 * ```ts
 * const self = cpuSeconds(Deno.pid);
 * ```
 */
export function cpuSeconds(pid: number | "children"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid === "children" ? "self" : pid}/stat`);
    // Fields after "(comm) ": state is field 3, so utime/stime (14, 15) sit at 11, 12
    // and cutime/cstime (16, 17) at 13, 14.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    const [user, system] = pid === "children" ? [f[13], f[14]] : [f[11], f[12]];
    return (user! + system!) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** CPU seconds so far, per process name. */
export type Meter = () => [string, number][];

/** Cores each process kept busy between two meter readings `seconds` apart. */
export function coresBusy(
  before: [string, number][],
  after: [string, number][],
  seconds: number,
): [string, number][] {
  return after.map(([name, t], i): [string, number] => [name, (t - before[i]![1]) / seconds]);
}

/**
 * Reads CPU seconds of wrk (this process's reaped children) and of each helper process.
 *
 * @example
 * ```ts
 * const meter = meterOf(tunnel, backend);
 * const before = meter();
 * // ... run wrk ...
 * const cores = coresBusy(before, meter(), 5);
 * ```
 */
export function meterOf(...groups: Processes[]): Meter {
  return () => [
    ["wrk", cpuSeconds("children")],
    ...groups.flatMap((g) => g.pids()).map(([name, pid]): [string, number] => [
      name,
      cpuSeconds(pid),
    ]),
  ];
}
