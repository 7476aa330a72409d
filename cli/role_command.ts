/**
 * The shape shared by `burrow server` and `burrow agent`: parse `--config`,
 * `--log-level` and `--help`, load the config, set up logging, start the
 * role, and run until a shutdown signal.
 *
 * @module
 */

import { LOG_LEVELS, type LogLevel, parseLogLevel } from "./log_level.ts";
import { waitForShutdown } from "./signals.ts";
import { listenForReload, type Reloadable } from "./reload_signal.ts";
import { parseFlags, runWithUsage } from "./usage.ts";
import { chooseConfig, type ConfigChoice, configLocationHelp } from "./config_location.ts";
import type { ParseArgsOptionsConfig } from "node:util";
import { ConfigError } from "../shared/config/jsonc.ts";
import type { LogConfig } from "../shared/log/config_types.ts";
import { type Logging, setupLogging } from "../shared/log/setup.ts";
import { checkPlatform } from "../shared/platform/check.ts";
import { type MemoryTrim, startMemoryTrim } from "../shared/platform/memory_trim.ts";

/** A long-running role: what differs between `burrow server` and `burrow agent`. */
export interface RoleCommand<C extends { log: LogConfig }> {
  /** The command word, also the logging role and the prefix of config errors. */
  role: "server" | "agent";
  /** Config file read when neither `--config` nor `BURROW_CONFIG` is given. */
  defaultConfig: string;
  /** Usage text, printed for `--help` and with usage mistakes. */
  usage: string;
  /** The role's own flags, besides `--config`, `--log-level` and `--help`. */
  flags?: ParseArgsOptionsConfig;
  /**
   * Reads and validates the config file named by `choice` (and the role's
   * `flags`); throws {@link ConfigError} or `NotFound`.
   */
  load(choice: ConfigChoice, flags: Record<string, unknown>): Promise<C>;
  /**
   * Starts the role; a throw is logged as fatal and ends the command with exit
   * code 1. SIGHUP calls the handle's `reloadConfig` (`systemctl reload`).
   */
  start(config: C, logging: Logging): Promise<Reloadable & { close(): Promise<void> }>;
}

/**
 * Usage text of a role command with its one-line `summary`.
 *
 * @example
 * ```ts
 * import { roleUsage } from "./role_command.ts";
 * const usage = roleUsage("agent", "Run the Burrow agent.", "/etc/burrow/agent.jsonc");
 * // usage.startsWith("Usage: burrow agent [options]")
 * ```
 */
export function roleUsage(
  role: "server" | "agent",
  summary: string,
  defaultConfig: string,
  more = "",
): string {
  return `Usage: burrow ${role} [options]

${summary}

Options:
  --config <file>      Config file (or BURROW_CONFIG; default: see below)
  --log-level <level>  One of ${LOG_LEVELS.join(", ")} (default: the file's log.level, else info)
  -h, --help           Show this help
${more}
${configLocationHelp(role, defaultConfig)}`;
}

/**
 * Runs a role command with the arguments after the command word and resolves
 * to the process exit code: 0 after a clean stop (Ctrl-C, SIGTERM) or for
 * `--help`, 2 for a usage mistake, 1 when the configuration is invalid or the
 * role cannot start.
 *
 * @example
 * ```ts
 * import { runRoleCommand } from "./role_command.ts";
 * import { loadAgentConfig } from "../agent/config.ts";
 * import { startAgent } from "../agent/agent.ts";
 * Deno.exitCode = await runRoleCommand(["--help"], {
 *   role: "agent",
 *   defaultConfig: "conf/agent.jsonc",
 *   usage: "Usage: burrow agent [options]",
 *   load: (choice) => loadAgentConfig(choice.file),
 *   start: (config, logging) => startAgent(config, { domains: "watch", log: logging.system }),
 * });
 * ```
 */
export async function runRoleCommand<C extends { log: LogConfig }>(
  args: string[],
  command: RoleCommand<C>,
): Promise<number> {
  return await runWithUsage(async () => {
    const flags = parseFlags(args, {
      options: {
        ...command.flags,
        config: { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      usage: command.usage,
    });
    if (flags.help) {
      console.log(command.usage);
      return 0;
    }
    // The flag overrides the config's level only when given.
    const level = flags["log-level"] === undefined
      ? undefined
      : parseLogLevel(flags["log-level"], command.usage);
    const choice = chooseConfig(flags.config, Deno.env.toObject(), command.defaultConfig);
    return await runRole(command, choice, flags, level);
  });
}

/** Loads the config, starts the role, and runs until a signal. */
async function runRole<C extends { log: LogConfig }>(
  command: RoleCommand<C>,
  choice: ConfigChoice,
  flags: Record<string, unknown>,
  level: LogLevel | undefined,
): Promise<number> {
  let config;
  try {
    config = await command.load(choice, flags);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof Deno.errors.NotFound) {
      console.error(`burrow ${command.role}: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
  if (level !== undefined) config.log.level = level;
  const logging = await setupLogging(config.log, { role: command.role });
  checkPlatform({ role: command.role, log: logging.system });
  try {
    // Before the start: a SIGHUP while it runs must not end the process.
    using reload = listenForReload(logging.system);
    let handle;
    try {
      handle = await command.start(config, logging);
    } catch (e) {
      const name = command.role[0]!.toUpperCase() + command.role.slice(1);
      logging.system.fatal(`${name} failed to start: {error}`, { error: (e as Error).message });
      return 1;
    }
    using _trim = startIdleTrim(logging);
    reload.attach(handle);
    const signal = await waitForShutdown();
    logging.system.info("Stopping on {signal}", { signal });
    await reload.idle();
    await handle.close();
    return 0;
  } finally {
    await logging.close();
  }
}

/**
 * Returns the memory a burst of load leaves in the allocator to the OS once
 * the role is quiet (see `memory_trim.ts`); says at debug level when it cannot.
 */
function startIdleTrim(logging: Logging): MemoryTrim {
  const trim = startMemoryTrim({
    onTrim: (freeBytes, ms) =>
      logging.system.debug("Quiet: returned up to {mb} MB of free heap to the OS in {ms} ms", {
        mb: Math.round(freeBytes / 1048576),
        ms: Math.round(ms),
      }),
  });
  if (trim.unavailable !== null) logging.system.debug(trim.unavailable);
  return trim;
}
