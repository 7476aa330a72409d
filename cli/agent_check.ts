/**
 * `burrow check --agent [flags]`: the settings `burrow agent` would start
 * with, the same flags and environment merged over the same config file,
 * each with where it came from, and every secret masked.
 *
 * @module
 */

import type { AgentLaunch } from "../agent/launch_settings.ts";
import { NO_CONFIG_FILE } from "../agent/launch_settings.ts";
import type { AgentDomain, AgentIdentityConfig } from "../agent/config_types.ts";
import type { AgentFlagValues } from "./agent_flags.ts";
import { loadAgentLaunch } from "./agent_settings.ts";
import {
  chooseConfig,
  type ConfigChoice,
  currentPlace,
  defaultConfigFile,
} from "./config_location.ts";
import { ConfigError } from "../shared/config/jsonc.ts";

/** What a masked secret shows. */
export const MASK = "********";

/** What `check` answers in place of a terminal prompt: a secret it never shows. */
const NOT_ASKED = "not asked by burrow check";

/** One `key: value  [from]` line. */
function line(key: string, value: unknown, from: string | undefined): string {
  return `  ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}  [${
    from ?? "defaults"
  }]`;
}

/** The identity's lines; the secret masked. */
function identityLines(identity: AgentIdentityConfig, sources: Map<string, string>): string[] {
  const from = (key: string) => sources.get(`identity.${key}`);
  const secret = from("secret") === "prompt"
    ? "(asked on the terminal at start)"
    : identity.secretFile !== null
    ? `${MASK} (first line of ${identity.secretFile})`
    : MASK;
  return [
    line("identity.name", identity.name, from("name")),
    line("identity.secret", secret, from("secret")),
    line("identity.server", `wss://${identity.remote}${identity.service}`, from("remote")),
    line("identity.caFile", identity.caFile ?? "none", from("caFile")),
    line("identity.insecure", identity.insecure, from("insecure")),
  ];
}

/** A command-line domain's lines; the secret masked. */
function domainLines(domain: AgentDomain, sources: Map<string, string>): string[] {
  const from = (key: string) => sources.get(`domain.${key}`);
  const secret = from("secret") === "prompt" ? "(asked on the terminal at start)" : MASK;
  const urls = domain.targets.flatMap((t) => t.urls.map((u) => u.url.href));
  return [
    line("domain.name", domain.name, from("name")),
    line("domain.targets", urls.join(", "), from("targets")),
    line("domain.secret", secret, from("secret")),
    line("domain.server", `wss://${domain.remote}${domain.service}`, from("remote")),
    line("domain.caFile", domain.caFile ?? "none", from("caFile")),
    line("domain.insecure", domain.insecure, from("insecure")),
  ];
}

/**
 * The merged settings as `check` prints them; no secret appears in them.
 *
 * @example
 * ```ts
 * import { describeLaunch } from "./agent_check.ts";
 * console.log(describeLaunch(launch, { file: "/etc/burrow/agent.jsonc", explicit: false }).join("\n"));
 * ```
 */
export function describeLaunch(launch: AgentLaunch, choice: ConfigChoice): string[] {
  const { config } = launch;
  const noFile = config.file === NO_CONFIG_FILE;
  const lines = [
    "Agent settings (flags over environment over config file; secrets masked):",
    `  config file: ${noFile ? `none (no file at ${choice.file})` : config.file}`,
    `  domains folder: ${config.domains ?? "none"}`,
  ];
  if (config.identity !== null) lines.push(...identityLines(config.identity, launch.sources));
  for (const domain of launch.pinned) lines.push(...domainLines(domain, launch.sources));
  if (config.identity === null && launch.pinned.length === 0 && config.domains === null) {
    lines.push("  (nothing to serve)");
  }
  return lines;
}

/**
 * Loads the agent's settings as `burrow agent` would (never prompting: a
 * secret it would ask for shows as asked) and resolves to them with their
 * description.
 *
 * @throws {ConfigError} or {@link UsageError} as {@link loadAgentLaunch} does.
 * @example
 * ```ts
 * import { checkAgentLaunch } from "./agent_check.ts";
 * const { lines } = await checkAgentLaunch({ file: "conf/agent.jsonc", explicit: true }, {}, {
 *   env: Deno.env.toObject(), usage: "Usage: burrow check",
 * });
 * ```
 */
export async function checkAgentLaunch(
  choice: ConfigChoice,
  flags: AgentFlagValues,
  options: { env: Readonly<Record<string, string | undefined>>; usage: string },
): Promise<{ launch: AgentLaunch; lines: string[] }> {
  const prompt = Deno.stdin.isTerminal() ? () => Promise.resolve(NOT_ASKED) : null;
  const launch = await loadAgentLaunch(choice, flags, { ...options, prompt });
  return { launch, lines: describeLaunch(launch, choice) };
}

/**
 * Runs `check --agent`: prints the merged settings (after checking the
 * config file, when one is read, with `options.checkFile`) and resolves to
 * the exit code: 0 when the agent could start with them, 1 otherwise.
 *
 * @throws {UsageError} for a flag at fault.
 * @example
 * ```ts
 * import { checkAgent } from "./agent_check.ts";
 * Deno.exitCode = await checkAgent(undefined, { name: "db1" }, {
 *   usage: "Usage: burrow check",
 *   checkFile: () => Promise.resolve(true),
 * });
 * ```
 */
export async function checkAgent(
  configFlag: string | undefined,
  flags: AgentFlagValues,
  options: { usage: string; checkFile: (file: string) => Promise<boolean> },
): Promise<number> {
  const env = Deno.env.toObject();
  const choice = chooseConfig(configFlag, env, defaultConfigFile("agent", currentPlace()));
  let checked;
  try {
    checked = await checkAgentLaunch(choice, flags, { env, usage: options.usage });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 1;
  }
  const fileOk = checked.launch.config.file === NO_CONFIG_FILE ||
    await options.checkFile(choice.file);
  console.log(checked.lines.join("\n"));
  return fileOk ? 0 : 1;
}
