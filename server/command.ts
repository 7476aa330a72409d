/**
 * `burrow server`: the public-facing role that agents dial into over wss.
 *
 * @module
 */

import { LOG_LEVELS, parseLogLevel } from "../cli/log_level.ts";
import { parseFlags, runWithUsage } from "../cli/usage.ts";
import { waitForShutdown } from "../cli/signals.ts";
import { loadServerConfig } from "./config.ts";
import { startServer } from "./server.ts";
import { setupLogging } from "../shared/log/setup.ts";
import { ConfigError } from "../shared/config/jsonc.ts";

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
 * to the process exit code: 0 after a clean stop (Ctrl-C, SIGTERM) or for
 * `--help`, 2 for a usage mistake, 1 when the configuration is invalid or the
 * server cannot start.
 *
 * @example
 * ```ts
 * import { serverCommand } from "./command.ts";
 * Deno.exitCode = await serverCommand(["--config", "conf/server.jsonc"]);
 * ```
 */
export async function serverCommand(args: string[]): Promise<number> {
  return await runWithUsage(async () => {
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
    // The flag overrides the config's level only when given.
    const level = flags["log-level"] === undefined
      ? undefined
      : parseLogLevel(flags["log-level"], SERVER_USAGE);
    return await runServer(flags.config!, level);
  });
}

async function runServer(file: string, level: string | undefined): Promise<number> {
  let config;
  try {
    config = await loadServerConfig(file);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof Deno.errors.NotFound) {
      console.error(`burrow server: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
  if (level !== undefined) config.log.level = level as typeof config.log.level;
  const logging = await setupLogging(config.log, { role: "server" });
  try {
    let handle;
    try {
      handle = await startServer(config, logging);
    } catch (e) {
      logging.system.fatal("Server failed to start: {error}", { error: (e as Error).message });
      return 1;
    }
    const signal = await waitForShutdown();
    logging.system.info("Stopping on {signal}", { signal });
    await handle.close();
    return 0;
  } finally {
    await logging.close();
  }
}
