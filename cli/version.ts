/**
 * `burrow version`: prints the build's version, Deno version and target.
 *
 * @module
 */

import { buildVersion } from "../shared/version.ts";
import { parseFlags, runWithUsage } from "./usage.ts";

/** Usage text of `burrow version`. */
export const VERSION_USAGE = `Usage: burrow version

Print Burrow's version, the Deno version and the build target.

Options:
  -h, --help  Show this help`;

/**
 * The one-line version string, e.g.
 * `burrow 0.1.0 (deno 2.9.6, x86_64-unknown-linux-gnu)` for a release build,
 * `burrow 0.1.0-dev (...)` for any other (see `shared/version.ts`).
 *
 * @example
 * ```ts
 * import { versionLine } from "./version.ts";
 * console.log(versionLine());
 * ```
 */
export function versionLine(): string {
  return `burrow ${buildVersion()} (deno ${Deno.version.deno}, ${Deno.build.target})`;
}

/**
 * Runs `burrow version`: prints {@link versionLine} to stdout and resolves to
 * 0, or to 2 after a usage mistake.
 *
 * @example
 * ```ts
 * import { versionCommand } from "./version.ts";
 * Deno.exitCode = await versionCommand([]);
 * ```
 */
export async function versionCommand(args: string[]): Promise<number> {
  return await runWithUsage(() => {
    const flags = parseFlags(args, {
      options: { help: { type: "boolean", short: "h" } },
      usage: VERSION_USAGE,
    });
    console.log(flags.help ? VERSION_USAGE : versionLine());
    return 0;
  });
}
