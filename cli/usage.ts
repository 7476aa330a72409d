/**
 * Shared command-line plumbing: strict flag parsing that turns every mistake
 * into a {@link UsageError}, and the one place that reports it (exit code 2).
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** Exit code for a command-line mistake, as in BSD `sysexits` and most Unix tools. */
export const USAGE_EXIT_CODE = 2;

/**
 * A command-line mistake (unknown command, unknown flag, bad value). Carries
 * the usage text of the command it belongs to so the report can show it.
 *
 * @example
 * ```ts
 * import { reportUsageError, UsageError } from "./usage.ts";
 * const code = reportUsageError(new UsageError("Unknown command 'x'", "Usage: burrow <command>"));
 * // code === 2
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
  /** Machine-readable condition code. */
  readonly code = "usage";
  /** Process exit code to use when this error ends the program. */
  readonly exitCode: number = USAGE_EXIT_CODE;
  /** Usage text of the command the mistake was made in. */
  readonly usage: string;

  /** Creates a usage error with a sentence-case `message` and the command's `usage`. */
  constructor(message: string, usage: string) {
    super(message);
    this.usage = usage;
  }
}

/**
 * Parses `args` with `node:util`'s `parseArgs` in strict mode (no positional
 * arguments). Any parse failure, such as an unknown flag or a missing value,
 * is rethrown as a {@link UsageError} whose message names the offending flag.
 *
 * @example
 * ```ts
 * import { parseFlags } from "./usage.ts";
 * const values = parseFlags(["--config", "a.jsonc"], {
 *   options: { config: { type: "string" } },
 *   usage: "Usage: burrow server [--config <file>]",
 * });
 * // values.config === "a.jsonc"
 * ```
 */
export function parseFlags<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: { options: T; usage: string },
): ReturnType<typeof parseArgs<{ options: T; strict: true }>>["values"] {
  try {
    return parseArgs({ args, options: options.options, strict: true }).values;
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message, options.usage);
    throw error;
  }
}

/**
 * Prints `error`'s message and its usage text to stderr and returns the exit
 * code to use (2).
 *
 * @example
 * ```ts
 * import { reportUsageError, UsageError } from "./usage.ts";
 * Deno.exitCode = reportUsageError(new UsageError("Unknown option '--x'", "Usage: burrow"));
 * ```
 */
export function reportUsageError(error: UsageError): number {
  console.error(`burrow: ${error.message}\n\n${error.usage}`);
  return error.exitCode;
}

/**
 * Runs a command body, converting a thrown {@link UsageError} into its report
 * and exit code. Other errors propagate.
 *
 * @example
 * ```ts
 * import { runWithUsage } from "./usage.ts";
 * const code = await runWithUsage(() => 0);
 * ```
 */
export async function runWithUsage(
  body: () => number | Promise<number>,
): Promise<number> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof UsageError) return reportUsageError(error);
    throw error;
  }
}
