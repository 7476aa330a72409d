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

/** A config folder that does not exist. */
const NO_CONFIG_HOME = "/nonexistent-burrow-test";

/**
 * The environment for a `burrow` child: this process's without any `BURROW_*`
 * variable (a developer's shell may export `BURROW_SERVER`, `BURROW_CONFIG`,
 * `BURROW_SECRET`…, which outrank config files), with `XDG_CONFIG_HOME` at
 * a folder that does not exist (the operator commands read
 * `~/.config/burrow/operator.jsonc` otherwise), plus `extra`. Give it with
 * `clearEnv: true`.
 *
 * @example
 * ```ts
 * new Deno.Command(Deno.execPath(), { args: ["run", "-A", MAIN, "version"], env: childEnv(), clearEnv: true });
 * ```
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const own = Object.entries(Deno.env.toObject()).filter(([name]) => !name.startsWith("BURROW_"));
  return { ...Object.fromEntries(own), XDG_CONFIG_HOME: NO_CONFIG_HOME, ...extra };
}

/**
 * Makes this test process's own environment {@link childEnv}'s, for tests
 * that run the commands in-process: drops every `BURROW_*` variable and
 * points `XDG_CONFIG_HOME` at a folder that does not exist. Each test file
 * runs in a process of its own, so this touches no other file's tests.
 */
export function isolateEnv(): void {
  for (const name of Object.keys(Deno.env.toObject())) {
    if (name.startsWith("BURROW_")) Deno.env.delete(name);
  }
  Deno.env.set("XDG_CONFIG_HOME", NO_CONFIG_HOME);
}

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
    env: childEnv({ NO_COLOR: "1" }),
    clearEnv: true,
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
