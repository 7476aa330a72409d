/**
 * The shape shared by the long-running operator commands (`burrow forward`,
 * `burrow socks`): parse flags and positional arguments, resolve the
 * connection settings, dial the operator session, start the local
 * listeners, show a status line on a terminal, and run until Ctrl-C or
 * SIGTERM, then close everything and exit 0.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { ConfigError } from "../shared/config/jsonc.ts";
import { OperatorDialError } from "../operator/dial.ts";
import { OperatorLink } from "../operator/link.ts";
import { resolveOperatorSettings, SettingsError } from "../operator/settings.ts";
import type { OperatorFlags } from "../operator/settings.ts";
import type { ForwardStats } from "../operator/stats.ts";
import { StatusLine } from "../operator/status_line.ts";
import { waitForShutdown } from "./signals.ts";
import { UsageError } from "./usage.ts";

/**
 * Parses `args` strictly, positional arguments allowed; any mistake is a
 * {@link UsageError} with `usage`.
 */
export function parseOperatorArgs<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
  usage: string,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message, usage);
    throw error;
  }
}

/** One local front end a command runs (a forward, a SOCKS listener). */
export interface Front {
  /** Its counters, for the status line; `label` for the "listening" line. */
  stats: ForwardStats;
  /** Stops it and waits for its connections. */
  close(): Promise<void>;
}

/**
 * What a command starts once the session is up; when one front cannot start,
 * it closes those it started and throws (the message is shown).
 */
export type StartFronts = (
  link: OperatorLink,
  report: (line: string) => void,
) => Promise<Front[]>;

/**
 * Connects, starts the fronts and runs until a signal; resolves to the exit
 * code: 0 after a clean stop, 1 when the settings, the dial or a listener
 * failed (one line on stderr saying why).
 */
export async function runOperatorCommand(
  name: string,
  flags: OperatorFlags,
  start: StartFronts,
): Promise<number> {
  const fail = (message: string) => {
    console.error(`burrow ${name}: ${message}`);
    return 1;
  };
  let settings;
  try {
    settings = await resolveOperatorSettings(flags);
  } catch (e) {
    if (e instanceof SettingsError || e instanceof ConfigError) return fail(e.message);
    throw e;
  }
  const fronts: Front[] = [];
  const status = new StatusLine({
    render: () => fronts.map((f) => f.stats.summary()).join(" | "),
  });
  try {
    let link: OperatorLink;
    try {
      link = await OperatorLink.connect(settings, { onEvent: (line) => status.line(line) });
    } catch (e) {
      if (e instanceof OperatorDialError) return fail(e.message);
      throw e;
    }
    try {
      fronts.push(...await start(link, (line) => status.line(line)));
    } catch (e) {
      await link.close();
      return fail((e as Error).message);
    }
    const shutdown = waitForShutdown();
    for (const f of fronts) status.line(`${f.stats.label}: listening`);
    const signal = await shutdown;
    status.line(`stopping on ${signal}`);
    await Promise.all([link.close(), ...fronts.map((f) => f.close())]);
    return 0;
  } finally {
    status[Symbol.dispose]();
  }
}
