/**
 * The `--log-level` flag shared by the `server` and `agent` commands.
 *
 * @module
 */

import { UsageError } from "./usage.ts";

/** Log levels accepted by `--log-level`, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Log level used when `--log-level` is not given. */
export const DEFAULT_LOG_LEVEL: LogLevel = "info";

/**
 * Validates a `--log-level` value, returning {@link DEFAULT_LOG_LEVEL} when it
 * is absent and throwing a {@link UsageError} (with `usage`) when it is unknown.
 *
 * @example
 * ```ts
 * import { parseLogLevel } from "./log_level.ts";
 * parseLogLevel("debug", "Usage: ..."); // "debug"
 * parseLogLevel(undefined, "Usage: ..."); // "info"
 * ```
 */
export function parseLogLevel(value: string | undefined, usage: string): LogLevel {
  if (value === undefined) return DEFAULT_LOG_LEVEL;
  const level = LOG_LEVELS.find((candidate) => candidate === value);
  if (level === undefined) {
    throw new UsageError(
      `Invalid value for --log-level: '${value}' (expected one of ${LOG_LEVELS.join(", ")})`,
      usage,
    );
  }
  return level;
}
