/**
 * `burrow forward AGENT [BIND:]PORT:HOST:PORT ...` (`ssh -L`), and with
 * `--udp`, UDP forwards: local listeners whose connections (or datagram
 * flows) reach HOST:PORT from the agent's machine, over the operator session.
 *
 * @module
 */

import { parseDuration } from "../shared/config/units.ts";
import { isIdentityName, NAME_HINT } from "../shared/auth/identity_name.ts";
import { OPERATOR_FLAG_OPTIONS, OPERATOR_FLAGS_USAGE } from "../operator/settings.ts";
import { type ForwardSpec, parseForwardSpec, SpecError } from "../operator/spec.ts";
import { TcpForwarder } from "../operator/tcp_forward.ts";
import { DEFAULT_UDP_FLOWS, DEFAULT_UDP_IDLE, UdpForwarder } from "../operator/udp_forward.ts";
import { type Front, parseOperatorArgs, runOperatorCommand } from "./operator_command.ts";
import { runWithUsage, UsageError } from "./usage.ts";

/** Usage text of `burrow forward`. */
export const FORWARD_USAGE = `Usage: burrow forward [options] AGENT [BIND:]PORT:HOST:PORT ...

Listen on local PORTs and carry each connection to HOST:PORT as seen from the
agent's machine (like ssh -L). HOST is resolved by the agent and checked
against its allowlist. BIND defaults to 127.0.0.1; IPv6 goes in brackets:
[::1]:2222:[fd00::5]:22. Several forwards may follow AGENT.

  burrow forward db1 15432:127.0.0.1:5432
  burrow forward --udp db1 5353:127.0.0.1:53    then: dig @127.0.0.1 -p 5353 ...

Options:
  --udp                Forward UDP datagrams instead (one flow per local source)
  --udp-idle <time>    Close a UDP flow idle this long (default 60s; "90s", "2m")
  --udp-max-flows <n>  Most UDP flows at once (default ${DEFAULT_UDP_FLOWS})
  -h, --help           Show this help

${OPERATOR_FLAGS_USAGE}

A refused connection is told as one line on stderr; a status line (connections
and bytes) is shown when stderr is a terminal. Ctrl-C stops cleanly.`;

/** Most forwards one command takes. */
const MAX_FORWARDS = 64;

/**
 * Runs `burrow forward` until Ctrl-C or SIGTERM; resolves to 0 then, 2 for a
 * usage mistake, 1 when it cannot start.
 *
 * @example
 * ```ts
 * Deno.exitCode = await forwardCommand(["db1", "15432:127.0.0.1:5432"]);
 * ```
 */
export async function forwardCommand(args: string[]): Promise<number> {
  return await runWithUsage(async () => {
    const { values, positionals } = parseOperatorArgs(args, {
      ...OPERATOR_FLAG_OPTIONS,
      udp: { type: "boolean" },
      "udp-idle": { type: "string" },
      "udp-max-flows": { type: "string" },
      help: { type: "boolean", short: "h" },
    }, FORWARD_USAGE);
    if (values.help) {
      console.log(FORWARD_USAGE);
      return 0;
    }
    const [agent, ...texts] = positionals;
    if (agent === undefined || texts.length === 0) {
      throw new UsageError("Give an agent and at least one [BIND:]PORT:HOST:PORT", FORWARD_USAGE);
    }
    checkAgent(agent, FORWARD_USAGE);
    if (texts.length > MAX_FORWARDS) {
      throw new UsageError(`At most ${MAX_FORWARDS} forwards in one command`, FORWARD_USAGE);
    }
    const specs = texts.map((text) => {
      try {
        return parseForwardSpec(text);
      } catch (e) {
        if (e instanceof SpecError) throw new UsageError(e.message, FORWARD_USAGE);
        throw e;
      }
    });
    const udp = values.udp === true
      ? {
        idleTimeout: udpIdle(values["udp-idle"]),
        maxFlows: positiveInt(values["udp-max-flows"], DEFAULT_UDP_FLOWS, "--udp-max-flows"),
      }
      : null;
    if (
      udp === null && (values["udp-idle"] !== undefined || values["udp-max-flows"] !== undefined)
    ) {
      throw new UsageError("--udp-idle and --udp-max-flows go with --udp", FORWARD_USAGE);
    }
    return await runOperatorCommand("forward", values, async (link, report) => {
      const fronts: Front[] = [];
      try {
        for (const spec of specs) {
          fronts.push(
            udp === null
              ? TcpForwarder.listen({ link, agent, spec, report })
              : await UdpForwarder.listen({ link, agent, spec, report, ...udp }),
          );
        }
      } catch (e) {
        await Promise.all(fronts.map((f) => f.close()));
        throw new Error(
          `cannot listen on ${listenOf(specs[fronts.length]!)}: ${(e as Error).message}`,
        );
      }
      return fronts;
    });
  });
}

/**
 * Refuses an agent name that no agent can have.
 *
 * @throws {UsageError} naming the rule.
 */
export function checkAgent(agent: string, usage: string): void {
  if (!isIdentityName(agent.toLowerCase())) {
    throw new UsageError(`Agent ${JSON.stringify(agent)} is not ${NAME_HINT}`, usage);
  }
}

function listenOf(spec: ForwardSpec): string {
  return spec.bind.includes(":") ? `[${spec.bind}]:${spec.port}` : `${spec.bind}:${spec.port}`;
}

function udpIdle(text: string | undefined): number {
  if (text === undefined) return DEFAULT_UDP_IDLE;
  let ms: number;
  try {
    ms = parseDuration(/^\d+(\.\d+)?$/.test(text) ? Number(text) : text);
  } catch (e) {
    throw new UsageError(`--udp-idle: ${(e as Error).message}`, FORWARD_USAGE);
  }
  if (ms < 1000 || ms > 24 * 3600_000) {
    throw new UsageError(
      `--udp-idle must be from 1s to 24h, got ${JSON.stringify(text)}`,
      FORWARD_USAGE,
    );
  }
  return ms;
}

function positiveInt(text: string | undefined, fallback: number, flag: string): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) {
    throw new UsageError(
      `${flag} must be a whole number from 1 to 65535, got ${JSON.stringify(text)}`,
      FORWARD_USAGE,
    );
  }
  return n;
}
