/**
 * `burrow agent`: the role that runs beside private services, dials out to a
 * server over wss and carries their traffic.
 *
 * @module
 */

import { roleUsage, runRoleCommand } from "./role_command.ts";
import { startAgent } from "../agent/agent.ts";
import { loadAgentConfig } from "../agent/config.ts";

/** Config file read when `--config` is not given. */
export const DEFAULT_AGENT_CONFIG = "conf/agent.jsonc";

/** Usage text of `burrow agent`. */
export const AGENT_USAGE = roleUsage(
  "agent",
  "Run the Burrow agent: dial out to a server over wss and serve its tunnels.",
  DEFAULT_AGENT_CONFIG,
);

/**
 * Runs `burrow agent` with the arguments after the command word and resolves
 * to the process exit code: 0 after a clean stop (Ctrl-C, SIGTERM) or for
 * `--help`, 2 for a usage mistake, 1 when the configuration or a domain file
 * is invalid or the agent cannot start.
 *
 * @example
 * ```ts
 * import { agentCommand } from "./agent.ts";
 * Deno.exitCode = await agentCommand(["--config", "conf/agent.jsonc"]);
 * ```
 */
export async function agentCommand(args: string[]): Promise<number> {
  return await runRoleCommand(args, {
    role: "agent",
    defaultConfig: DEFAULT_AGENT_CONFIG,
    usage: AGENT_USAGE,
    load: loadAgentConfig,
    // The agent watches its domain folder and logs to the system log only.
    start: (config, logging) => startAgent(config, { domains: "watch", log: logging.system }),
  });
}
