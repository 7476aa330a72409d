/**
 * Running `packaging/windows/install-agent.ps1` pieces from tests: PowerShell
 * 7 (`pwsh`) when it is on PATH (GitHub's ubuntu and windows runners have it;
 * this project's own machines do not: no .NET from Debian), and the C#
 * service host's source as the script holds it.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The installer script's absolute path. */
export const INSTALLER = fileURLToPath(
  new URL("../../packaging/windows/install-agent.ps1", import.meta.url),
);

/** Whether `command` runs here (false when it is not on PATH). */
export function hasCommand(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Whether `pwsh` (PowerShell 7) runs here. */
export const HAS_PWSH = hasCommand("pwsh", ["-NoProfile", "-NonInteractive", "-Command", "exit 0"]);

/** What a PowerShell run printed. */
export interface PwshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` in a fresh `pwsh` with the installer's functions loaded
 * (dot-sourced: its install does not run) and resolves to what it printed.
 *
 * @example
 * ```ts
 * const { stdout } = await runPwsh("Get-BurrowTarget -Architecture AMD64");
 * // stdout.trim() === "x86_64-pc-windows-msvc"
 * ```
 */
export async function runPwsh(
  script: string,
  options: { load?: boolean } = {},
): Promise<PwshResult> {
  const quoted = INSTALLER.replaceAll("'", "''");
  const prelude = options.load === false ? "" : `. '${quoted}'\n`;
  const dir = await Deno.makeTempDir({ prefix: "burrow-pwsh-" });
  try {
    const file = `${dir}/test.ps1`;
    await Deno.writeTextFile(file, prelude + script + "\n");
    const { code, stdout, stderr } = await new Deno.Command("pwsh", {
      args: ["-NoProfile", "-NonInteractive", "-File", file],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Like {@link runPwsh}, and fails unless the run exits 0; resolves to stdout. */
export async function pwshOk(script: string, options: { load?: boolean } = {}): Promise<string> {
  const result = await runPwsh(script, options);
  if (result.code !== 0) {
    throw new Error(`pwsh exited with ${result.code}:\n${result.stderr}\n${result.stdout}`);
  }
  return result.stdout;
}

/** The C# source of the service host, cut from the script's here-string. */
export async function serviceHostSource(): Promise<string> {
  const text = await Deno.readTextFile(INSTALLER);
  const match = /function Get-BurrowServiceHostSource \{[\s\S]*?return @'\r?\n([\s\S]*?)\r?\n'@/
    .exec(text);
  if (match === null) throw new Error("No service host source in install-agent.ps1");
  return match[1]!;
}
