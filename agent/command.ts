/**
 * `burrow agent`: the role that runs beside private services, dials out to a
 * server over wss and carries their traffic.
 *
 * @module
 */

import { LOG_LEVELS, parseLogLevel } from "../cli/log_level.ts";
import { parseFlags, runWithUsage } from "../cli/usage.ts";

/** Config file read when `--config` is not given. */
export const DEFAULT_AGENT_CONFIG = "conf/agent.jsonc";

/** Usage text of `burrow agent`. */
export const AGENT_USAGE = `Usage: burrow agent [options]

Run the Burrow agent: dial out to a server over wss and serve its tunnels.

Options:
  --config <file>      Config file (default: ${DEFAULT_AGENT_CONFIG})
  --log-level <level>  One of ${LOG_LEVELS.join(", ")} (default: info)
  -h, --help           Show this help`;

/**
 * Runs `burrow agent` with the arguments after the command word and resolves
 * to the process exit code: 0 for `--help`, 2 for a usage mistake, 1 while the
 * agent itself is not yet implemented.
 *
 * @example
 * ```ts
 * import { agentCommand } from "./command.ts";
 * Deno.exitCode = await agentCommand(["--config", "conf/agent.jsonc"]);
 * ```
 */
export async function agentCommand(args: string[]): Promise<number> {
  return await runWithUsage(() => {
    const flags = parseFlags(args, {
      options: {
        config: { type: "string", default: DEFAULT_AGENT_CONFIG },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      usage: AGENT_USAGE,
    });
    if (flags.help) {
      console.log(AGENT_USAGE);
      return 0;
    }
    parseLogLevel(flags["log-level"], AGENT_USAGE);
    console.error(`burrow agent: not yet implemented (config: ${flags.config})`);
    return 1;
  });
}
