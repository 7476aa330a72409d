/**
 * `burrow socks AGENT [BIND:]PORT` (`ssh -D`): a local SOCKS5 server whose
 * CONNECTs reach their targets from the agent's machine.
 *
 * @module
 */

import { OPERATOR_FLAG_OPTIONS, OPERATOR_FLAGS_USAGE } from "../operator/settings.ts";
import { SocksServer } from "../operator/socks_server.ts";
import { parseListenSpec, SpecError } from "../operator/spec.ts";
import { checkAgent } from "./forward.ts";
import { parseOperatorArgs, runOperatorCommand } from "./operator_command.ts";
import { runWithUsage, UsageError } from "./usage.ts";

/** Usage text of `burrow socks`. */
export const SOCKS_USAGE = `Usage: burrow socks [options] AGENT [BIND:]PORT

Run a SOCKS5 server on PORT (BIND defaults to 127.0.0.1) whose connections
leave from the agent's machine (like ssh -D). CONNECT only, no authentication;
names are resolved by the agent, and every target is checked against the
agent's allowlist. A refusal answers the client with its SOCKS reply code
(0x02 not allowed, 0x04 host unreachable, 0x05 refused, ...) and one line here.

  burrow socks db1 1080
  curl --socks5-hostname 127.0.0.1:1080 http://intranet.lan/

Options:
  -h, --help           Show this help

${OPERATOR_FLAGS_USAGE}`;

/**
 * Runs `burrow socks` until Ctrl-C or SIGTERM; resolves to 0 then, 2 for a
 * usage mistake, 1 when it cannot start.
 *
 * @example
 * ```ts
 * Deno.exitCode = await socksCommand(["db1", "1080"]);
 * ```
 */
export async function socksCommand(args: string[]): Promise<number> {
  return await runWithUsage(async () => {
    const { values, positionals } = parseOperatorArgs(args, {
      ...OPERATOR_FLAG_OPTIONS,
      help: { type: "boolean", short: "h" },
    }, SOCKS_USAGE);
    if (values.help) {
      console.log(SOCKS_USAGE);
      return 0;
    }
    if (positionals.length !== 2) {
      throw new UsageError("Give an agent and one [BIND:]PORT", SOCKS_USAGE);
    }
    const [agent, text] = positionals as [string, string];
    checkAgent(agent, SOCKS_USAGE);
    let spec;
    try {
      spec = parseListenSpec(text);
    } catch (e) {
      if (e instanceof SpecError) throw new UsageError(e.message, SOCKS_USAGE);
      throw e;
    }
    return await runOperatorCommand("socks", values, (link, report) => {
      try {
        return Promise.resolve([SocksServer.listen({ link, agent, spec, report })]);
      } catch (e) {
        throw new Error(`cannot listen on ${text}: ${(e as Error).message}`);
      }
    });
  });
}
