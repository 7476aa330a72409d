/**
 * `burrow server`: the public-facing role that agents dial into over wss.
 *
 * @module
 */

import { roleUsage, runRoleCommand } from "./role_command.ts";
import { loadServerConfig } from "../server/config.ts";
import { startServer } from "../server/server.ts";
import { currentPlace, defaultConfigFile } from "./config_location.ts";

/** Config file read when `--config` is not given (see `config_location.ts`). */
export const DEFAULT_SERVER_CONFIG = defaultConfigFile("server", currentPlace());

/** Usage text of `burrow server`. */
export const SERVER_USAGE = roleUsage(
  "server",
  "Run the Burrow server: accept agents over wss and route traffic to them.",
  DEFAULT_SERVER_CONFIG,
);

/**
 * Runs `burrow server` with the arguments after the command word and resolves
 * to the process exit code: 0 after a clean stop (Ctrl-C, SIGTERM) or for
 * `--help`, 2 for a usage mistake, 1 when the configuration is invalid or the
 * server cannot start.
 *
 * @example
 * ```ts
 * import { serverCommand } from "./server.ts";
 * Deno.exitCode = await serverCommand(["--config", "conf/server.jsonc"]);
 * ```
 */
export async function serverCommand(args: string[]): Promise<number> {
  return await runRoleCommand(args, {
    role: "server",
    defaultConfig: DEFAULT_SERVER_CONFIG,
    usage: SERVER_USAGE,
    load: (choice) => loadServerConfig(choice.file),
    start: startServer,
  });
}
