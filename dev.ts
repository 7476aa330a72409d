/**
 * `deno task dev`: Burrow under `deno run --watch`. With no arguments (or only
 * options) it runs `burrow demo` on fixed ports with its files kept in one
 * folder under the OS temp folder, so each restart on a code change serves on
 * the same ports, trusts the same CA and accepts the same token: the lines it
 * printed keep working. With a command (`deno task dev server --config ...`)
 * it runs that command, as `main.ts` would.
 *
 * @example
 * ```sh
 * deno task dev                      # the demo, restarted on every change
 * deno task dev --port 9443          # the same on other ports (9443, then 9444-9449)
 * deno task dev server --config conf/server.jsonc
 * ```
 *
 * @module
 */

import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "./main.ts";

/** The dev demo's server port; its other ports follow it (`--ports-from` port + 1). */
export const DEV_DEMO_PORT = 8443;

/** The folder, under the OS temp folder, where the dev demo keeps its files. */
export const DEV_DEMO_DIR = "burrow-dev-demo";

/**
 * The `main.ts` arguments `deno task dev ARGS` runs: `args` as given when they
 * start with a command; else the demo on fixed ports with a kept folder, then
 * `args` (a later `--port`, `--ports-from` or `--dir` wins). A `--port` given
 * without `--ports-from` moves the other ports along with it.
 *
 * @example
 * ```ts
 * devArgs(["server", "--config", "conf/server.jsonc"]); // unchanged
 * devArgs([]); // ["demo", "--port", "8443", "--ports-from", "8444", "--dir", "/tmp/burrow-dev-demo"]
 * ```
 */
export function devArgs(args: readonly string[], tmp: string = tmpdir()): string[] {
  if (args.length > 0 && !args[0]!.startsWith("-")) return [...args];
  const portAt = args.findLastIndex((a) => a === "--port" || a.startsWith("--port="));
  const port = portAt < 0
    ? DEV_DEMO_PORT
    : Number(args[portAt]!.includes("=") ? args[portAt]!.split("=")[1] : args[portAt + 1]);
  const from = Number.isInteger(port) && port > 0 ? port + 1 : DEV_DEMO_PORT + 1;
  return [
    "demo",
    "--port",
    String(DEV_DEMO_PORT),
    "--ports-from",
    String(from),
    "--dir",
    join(tmp, DEV_DEMO_DIR),
    ...args,
  ];
}

if (import.meta.main) Deno.exit(await main(devArgs(Deno.args)));
