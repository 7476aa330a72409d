/**
 * `burrow server`: the public-facing role that agents dial into over wss.
 *
 * @module
 */

import { LOG_LEVELS, parseLogLevel } from "../cli/log_level.ts";
import { parseFlags, runWithUsage } from "../cli/usage.ts";

/** Config file read when `--config` is not given. */
export const DEFAULT_SERVER_CONFIG = "conf/server.jsonc";

/** Usage text of `burrow server`. */
export const SERVER_USAGE = `Usage: burrow server [options]

Run the Burrow server: accept agents over wss and route traffic to them.

Options:
  --config <file>      Config file (default: ${DEFAULT_SERVER_CONFIG})
  --log-level <level>  One of ${LOG_LEVELS.join(", ")} (default: info)
  -h, --help           Show this help`;

/**
 * Runs `burrow server` with the arguments after the command word and resolves
 * to the process exit code: 0 for `--help`, 2 for a usage mistake, 1 while the
 * server itself is not yet implemented.
 *
 * @example
 * ```ts
 * import { serverCommand } from "./command.ts";
 * Deno.exitCode = await serverCommand(["--config", "conf/server.jsonc"]);
 * ```
 */
export async function serverCommand(args: string[]): Promise<number> {
  return await runWithUsage(() => {
    const flags = parseFlags(args, {
      options: {
        config: { type: "string", default: DEFAULT_SERVER_CONFIG },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      usage: SERVER_USAGE,
    });
    if (flags.help) {
      console.log(SERVER_USAGE);
      return 0;
    }
    parseLogLevel(flags["log-level"], SERVER_USAGE);
    console.error(`burrow server: not yet implemented (config: ${flags.config})`);
    return 1;
  });
}
