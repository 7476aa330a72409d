/**
 * Settings of the HTTP bench: the tunnel's domain, how long each wrk run
 * lasts, and the environment variables that shorten or narrow a run.
 *
 * @module
 */

/** Domain the tunnel serves; requests through it carry it as `Host`. */
export const DOMAIN = "bench.test";
/** Length of each full wrk run. */
export const DURATION = "5s";
/** Length of each warm-up wrk run. */
export const WARMUP = "3s";
/** Length of the one-connection wrk run. */
export const SINGLE_DURATION = "3s";
/** Size of the bulk download in MiB (`BENCH_BULK_MIB`, default 1024). */
export const BULK_MIB = Number(Deno.env.get("BENCH_BULK_MIB") ?? 1024);
/** Whether small responses are measured once more with the other layout (`BENCH_OTHER_LAYOUT`). */
export const OTHER_LAYOUT = Deno.env.get("BENCH_OTHER_LAYOUT") !== "0";
