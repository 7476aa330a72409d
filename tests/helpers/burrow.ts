/**
 * Running the `burrow` command line in a subprocess, as a user would.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The project root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** `main.ts`, the entry point. */
export const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** What a finished `burrow` process left behind. */
export interface Run {
  /** Exit code. */
  code: number;
  /** Everything written to standard output. */
  stdout: string;
  /** Everything written to standard error. */
  stderr: string;
}

/**
 * Runs `deno run -A main.ts ...args` in `cwd` (default: the project root)
 * with no standard input and collects its output.
 *
 * @example
 * ```ts
 * const run = await burrow(["version"]);
 * // run.code === 0
 * ```
 */
export async function burrow(args: string[], cwd = ROOT): Promise<Run> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", MAIN, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
