/**
 * What the packaging tests share: running a tool, a stand-in `burrow`
 * binary (a shell script printing a version), and a snapshot of a folder
 * tree (paths, modes, sizes, mtimes, contents) to compare two runs.
 *
 * @module
 */

import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's `packaging/` folder. */
export const PACKAGING = fileURLToPath(new URL("../../packaging", import.meta.url));

/** What a finished command left behind. */
export interface Ran {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/**
 * Runs `command` with `args` (no standard input, no `BURROW_*` variables) and
 * collects its output.
 *
 * @example
 * ```ts
 * const ran = await run("sh", ["-c", "echo hi"]);
 * // ran.stdout === "hi\n"
 * ```
 */
export async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Ran> {
  // Without the shell's BURROW_* (install.sh reads BURROW_BASE_URL, for one).
  const own = Object.entries(Deno.env.toObject()).filter(([name]) => !name.startsWith("BURROW_"));
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: { ...Object.fromEntries(own), ...options.env },
    clearEnv: true,
  }).output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

/** Whether `tool` is on the PATH. */
export async function has(tool: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v ${tool}`])).code === 0;
}

/**
 * Writes a stand-in `burrow` into `dir`: a shell script that prints
 * `burrow VERSION (stand-in)`. Resolves to its path.
 */
export async function standIn(dir: string, version = "9.9.9"): Promise<string> {
  const path = join(dir, "burrow");
  await Deno.writeTextFile(path, `#!/bin/sh\necho "burrow ${version} (stand-in)"\n`);
  await Deno.chmod(path, 0o755);
  return path;
}

/**
 * Every entry under `root`, sorted: `path mode` for folders, `path mode size
 * mtime sha256` for files (paths relative to `root`, mode in octal).
 */
export async function snapshot(root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      const info = await Deno.lstat(path);
      const mode = ((info.mode ?? 0) & 0o7777).toString(8);
      const rel = relative(root, path);
      if (info.isDirectory) {
        lines.push(`${rel}/ ${mode}`);
        await walk(path);
        continue;
      }
      const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
      const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"));
      lines.push(`${rel} ${mode} ${info.size} ${info.mtime?.getTime()} ${hex.join("")}`);
    }
  };
  await walk(root);
  return lines.sort();
}

/** The files (not folders) under `root`, relative, sorted. */
export async function filesUnder(root: string): Promise<string[]> {
  return (await snapshot(root)).filter((l) => !l.split(" ")[0]!.endsWith("/"))
    .map((l) => l.split(" ")[0]!);
}
