/**
 * `burrow agent`: the role that runs beside private services, dials out to a
 * server over wss and carries their traffic. It starts from its config file,
 * from flags and environment variables alone (`burrow agent --server … --name
 * … --secret-file …`), or both (see `agent_settings.ts`).
 *
 * @module
 */

import { roleUsage, runRoleCommand } from "./role_command.ts";
import { startAgent } from "../agent/agent.ts";
import { AGENT_FLAGS, AGENT_FLAGS_USAGE, refuseSecretFlags } from "./agent_flags.ts";
import { loadAgentLaunch } from "./agent_settings.ts";
import { currentPlace, defaultConfigFile } from "./config_location.ts";
import { runWithUsage } from "./usage.ts";

/** Config file read when `--config` is not given (see `config_location.ts`). */
export const DEFAULT_AGENT_CONFIG = defaultConfigFile("agent", currentPlace());

/** Usage text of `burrow agent`. */
export const AGENT_USAGE = roleUsage(
  "agent",
  "Run the Burrow agent: dial out to a server over wss and serve its tunnels.",
  DEFAULT_AGENT_CONFIG,
  AGENT_FLAGS_USAGE,
);

/**
 * Runs `burrow agent` with the arguments after the command word and resolves
 * to the process exit code: 0 after a clean stop (Ctrl-C, SIGTERM) or for
 * `--help`, 2 for a usage mistake (a secret given as a flag's value
 * included), 1 when the configuration, a domain file or an environment
 * variable is invalid or the agent cannot start.
 *
 * @example
 * ```ts
 * import { agentCommand } from "./agent.ts";
 * Deno.exitCode = await agentCommand(["--server", "wss://tunnel.example.com", "--name", "db1",
 *   "--secret-file", "/etc/burrow/db1.secret"]);
 * ```
 */
export async function agentCommand(args: string[]): Promise<number> {
  return await runWithUsage(async () => {
    refuseSecretFlags(args, AGENT_USAGE);
    return await runRoleCommand(args, {
      role: "agent",
      defaultConfig: DEFAULT_AGENT_CONFIG,
      usage: AGENT_USAGE,
      flags: AGENT_FLAGS,
      load: (choice, flags) =>
        loadAgentLaunch(choice, flags, { env: Deno.env.toObject(), usage: AGENT_USAGE }),
      // The agent watches its domain folder and logs to the system log only.
      start: (launch, logging) =>
        startAgent(launch.config, {
          domains: "watch",
          pinned: launch.pinned,
          log: logging.system,
        }),
    });
  });
}
