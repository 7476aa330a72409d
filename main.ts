/**
 * Burrow's entry point: reads the command word and hands the remaining
 * arguments to that command's module. Nothing else lives here.
 *
 * @example
 * ```sh
 * deno run -A main.ts server --config conf/server.jsonc
 * ```
 *
 * @module
 */

import { USAGE } from "./cli/help.ts";
import { reportUsageError, USAGE_EXIT_CODE, UsageError } from "./cli/usage.ts";

/** A command: takes the arguments after its word, resolves to an exit code. */
type Command = (args: string[]) => Promise<number>;

/**
 * Every command, keyed by the word that selects it, loaded when chosen: each
 * role loads only its own module graph, so the server never holds the agent's
 * code nor the agent the server's, and neither holds `demo`'s or `check`'s.
 * The specifiers are string literals, so `deno compile` still embeds them.
 */
const COMMANDS: ReadonlyMap<string, () => Promise<Command>> = new Map([
  ["server", async () => (await import("./cli/server.ts")).serverCommand],
  ["agent", async () => (await import("./cli/agent.ts")).agentCommand],
  ["demo", async () => (await import("./cli/demo.ts")).demoCommand],
  ["forward", async () => (await import("./cli/forward.ts")).forwardCommand],
  ["socks", async () => (await import("./cli/socks.ts")).socksCommand],
  ["check", async () => (await import("./cli/check.ts")).checkCommand],
  ["password", async () => (await import("./cli/password.ts")).passwordCommand],
  ["token", async () => (await import("./cli/token.ts")).tokenCommand],
  ["agents", async () => (await import("./cli/agents.ts")).agentsCommand],
  ["sessions", async () => (await import("./cli/sessions.ts")).sessionsCommand],
  ["channels", async () => (await import("./cli/channels.ts")).channelsCommand],
  ["audit", async () => (await import("./cli/audit.ts")).auditCommand],
  ["version", async () => (await import("./cli/version.ts")).versionCommand],
  ["help", async () => (await import("./cli/help.ts")).helpCommand],
]);

/**
 * Dispatches `args` (as in `Deno.args`) to the named command and resolves to
 * the process exit code.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["version"]); // prints "burrow 0.1.0-dev (...)", code === 0
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [word, ...rest] = args;
  if (word === undefined) {
    console.error(USAGE);
    return USAGE_EXIT_CODE;
  }
  if (word === "--help" || word === "-h") {
    console.log(USAGE);
    return 0;
  }
  const load = COMMANDS.get(word);
  if (load === undefined) {
    const what = word.startsWith("-") ? "option" : "command";
    return reportUsageError(new UsageError(`Unknown ${what} '${word}'`, USAGE));
  }
  const command = await load();
  return await command(rest);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
