/**
 * `burrow help` and the top-level usage text.
 *
 * @module
 */

import { parseFlags, runWithUsage } from "./usage.ts";

/** Top-level usage text: the list of commands. */
export const USAGE = `Usage: burrow <command> [options]

Burrow is a self-hosted tunnel toolkit: one binary, several roles.

Commands:
  server    Accept agents over wss and route traffic to them
  agent     Dial out to a server and serve its tunnels
  demo      Run a working tunnel on this machine, no configuration needed
  forward   Carry local ports to an agent's network (like ssh -L)
  socks     Local SOCKS5 proxy out of an agent's network (like ssh -D)
  check     Validate config files and their domain files without starting
  password  Print the $6$ hash of a secret, to store in a config file
  token     Make an operator token; print it once, and its hash for the server
  agents    List the server's agents: connected, configured, last seen (admin)
  sessions  List agent sessions from the server's audit (admin)
  channels  List forwards, SOCKS and published-port connections (admin)
  audit     List authentication refusals from the server's audit (admin)
  version   Print the version and exit
  help      Print this help and exit

Run 'burrow <command> --help' for a command's options.`;

/** Usage text of `burrow help`. */
export const HELP_USAGE = `Usage: burrow help

Print the list of commands.

Options:
  -h, --help  Show this help`;

/**
 * Runs `burrow help`: prints {@link USAGE} to stdout and resolves to 0, or to
 * 2 after a usage mistake.
 *
 * @example
 * ```ts
 * import { helpCommand } from "./help.ts";
 * Deno.exitCode = await helpCommand([]);
 * ```
 */
export async function helpCommand(args: string[]): Promise<number> {
  return await runWithUsage(() => {
    const flags = parseFlags(args, {
      options: { help: { type: "boolean", short: "h" } },
      usage: HELP_USAGE,
    });
    console.log(flags.help ? HELP_USAGE : USAGE);
    return 0;
  });
}
