/**
 * `burrow agent`: the role that runs beside private services, dials out to a
 * server over wss and carries their traffic.
 *
 * @module
 */

import { LOG_LEVELS, parseLogLevel } from "../cli/log_level.ts";
import { waitForShutdown } from "../cli/signals.ts";
import { parseFlags, runWithUsage } from "../cli/usage.ts";
import { ConfigError } from "../shared/config/jsonc.ts";
import { setupLogging } from "../shared/log/setup.ts";
import { startAgent } from "./agent.ts";
import { loadAgentConfig } from "./config.ts";

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
 * to the process exit code: 0 after a clean stop (Ctrl-C, SIGTERM) or for
 * `--help`, 2 for a usage mistake, 1 when the configuration or a domain file
 * is invalid or the agent cannot start.
 *
 * @example
 * ```ts
 * import { agentCommand } from "./command.ts";
 * Deno.exitCode = await agentCommand(["--config", "conf/agent.jsonc"]);
 * ```
 */
export async function agentCommand(args: string[]): Promise<number> {
  return await runWithUsage(async () => {
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
    // The flag overrides the config's level only when given.
    const level = flags["log-level"] === undefined
      ? undefined
      : parseLogLevel(flags["log-level"], AGENT_USAGE);
    return await runAgent(flags.config!, level);
  });
}

/** Loads the config, starts the agent on the domain folder, and runs until a signal. */
async function runAgent(file: string, level: string | undefined): Promise<number> {
  let config;
  try {
    config = await loadAgentConfig(file);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof Deno.errors.NotFound) {
      console.error(`burrow agent: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
  if (level !== undefined) config.log.level = level as typeof config.log.level;
  const logging = await setupLogging(config.log, { role: "agent" });
  try {
    let agent;
    try {
      agent = await startAgent(config, { domains: "watch", log: logging.system });
    } catch (e) {
      logging.system.fatal("Agent failed to start: {error}", { error: (e as Error).message });
      return 1;
    }
    const signal = await waitForShutdown();
    logging.system.info("Stopping on {signal}", { signal });
    await agent.close();
    return 0;
  } finally {
    await logging.close();
  }
}
