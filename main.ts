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

import { agentCommand } from "./cli/agent.ts";
import { checkCommand } from "./cli/check.ts";
import { demoCommand } from "./cli/demo.ts";
import { helpCommand, USAGE } from "./cli/help.ts";
import { passwordCommand } from "./cli/password.ts";
import { reportUsageError, USAGE_EXIT_CODE, UsageError } from "./cli/usage.ts";
import { versionCommand } from "./cli/version.ts";
import { serverCommand } from "./cli/server.ts";

/** A command: takes the arguments after its word, resolves to an exit code. */
type Command = (args: string[]) => Promise<number>;

/** Every command, keyed by the word that selects it. */
const COMMANDS: ReadonlyMap<string, Command> = new Map([
  ["server", serverCommand],
  ["agent", agentCommand],
  ["demo", demoCommand],
  ["check", checkCommand],
  ["password", passwordCommand],
  ["version", versionCommand],
  ["help", helpCommand],
]);

/**
 * Dispatches `args` (as in `Deno.args`) to the named command and resolves to
 * the process exit code.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["version"]); // prints "burrow 0.1.0 (...)", code === 0
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
  const command = COMMANDS.get(word);
  if (command === undefined) {
    const what = word.startsWith("-") ? "option" : "command";
    return reportUsageError(new UsageError(`Unknown ${what} '${word}'`, USAGE));
  }
  return await command(rest);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
