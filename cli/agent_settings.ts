/**
 * The settings an agent starts with, as `burrow agent` and
 * `burrow check --agent` both find them: the config file (`--config`,
 * `BURROW_CONFIG`, or the default location when a file is there), then the
 * environment, then the flags over it (`agent/launch_settings.ts`). With
 * flags or variables and no file at the default location, no file is needed.
 *
 * @module
 */

import { loadAgentConfig } from "../agent/config.ts";
import { givenSettings, LaunchError, type Sourced } from "../agent/launch_inputs.ts";
import { type AgentLaunch, type LaunchDeps, mergeLaunch } from "../agent/launch_settings.ts";
import { ConfigError } from "../shared/config/jsonc.ts";
import { type AgentFlagValues, launchInputs } from "./agent_flags.ts";
import { promptHidden } from "./hidden_prompt.ts";
import { UsageError } from "./usage.ts";
import type { ConfigChoice } from "./config_location.ts";

/** Options of {@link loadAgentLaunch}. */
export interface AgentLaunchOptions {
  /** Environment variables. */
  env: Readonly<Record<string, string | undefined>>;
  /** Asks for a missing secret; null when stdin is not a terminal. Default: {@link terminalPrompt}. */
  prompt?: LaunchDeps["prompt"];
  /** Usage text for usage errors. */
  usage: string;
}

/**
 * Asks on the terminal, without echo, when stdin is one; else null.
 *
 * @example
 * ```ts
 * import { terminalPrompt } from "./agent_settings.ts";
 * const prompt = terminalPrompt(); // null under a service manager
 * ```
 */
export function terminalPrompt(): LaunchDeps["prompt"] {
  if (!Deno.stdin.isTerminal()) return null;
  return async (what) => {
    const text = await promptHidden(what);
    if (text === null) throw new LaunchError("prompt", "cancelled");
    return text;
  };
}

/** Whether `file` exists (anything else, such as a permission problem, is left to the read). */
async function exists(file: string): Promise<boolean> {
  try {
    await Deno.stat(file);
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.NotFound);
  }
}

/** A file named by a flag or variable must exist: a typo should stop the start, not each dial. */
async function mustExist(input: Sourced<string>): Promise<void> {
  try {
    await Deno.stat(input.value);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "No such file or directory"
      : (error as Error).message;
    throw new LaunchError(input.from, `Cannot read ${JSON.stringify(input.value)}: ${reason}`);
  }
}

/**
 * Loads the agent's file (when there is one to read) and merges the flags
 * and environment over it.
 *
 * @throws {ConfigError} for the file, or for an environment variable at fault
 * (its name in place of a file); {@link UsageError} for a flag at fault.
 * @example
 * ```ts
 * import { loadAgentLaunch } from "./agent_settings.ts";
 * const launch = await loadAgentLaunch({ file: "/etc/burrow/agent.jsonc", explicit: false },
 *   { server: "wss://tunnel.example.com", name: "db1", "secret-file": "db1.secret" },
 *   { env: {}, usage: "Usage: burrow agent" });
 * ```
 */
export async function loadAgentLaunch(
  choice: ConfigChoice,
  flags: AgentFlagValues,
  options: AgentLaunchOptions,
): Promise<AgentLaunch> {
  try {
    const inputs = launchInputs(flags, options.env);
    const none = givenSettings(inputs).length === 0;
    const found = choice.explicit || await exists(choice.file);
    if (!found && none) {
      throw new ConfigError(
        "No config file at this default location: give --config FILE, or start with flags " +
          "(--server URL --name NAME --secret-file FILE; see --help)",
        { code: "io", file: choice.file },
      );
    }
    const file = found ? await loadAgentConfig(choice.file) : null;
    if (none && file !== null) {
      return { config: file, pinned: [], log: file.log, sources: new Map() };
    }
    const prompt = options.prompt === undefined ? terminalPrompt() : options.prompt;
    const launch = await mergeLaunch(file, inputs, { prompt });
    if (inputs.caFile !== undefined) await mustExist(inputs.caFile);
    return launch;
  } catch (error) {
    if (!(error instanceof LaunchError)) throw error;
    if (error.from.startsWith("--")) throw new UsageError(error.message, options.usage);
    const detail = error.message.slice(error.from.length + 2);
    throw new ConfigError(detail, { code: "invalid", file: error.from });
  }
}
