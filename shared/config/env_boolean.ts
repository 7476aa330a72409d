/**
 * The one reading of an on/off environment variable (`BURROW_INSECURE`),
 * shared by the agent's and the operator commands' settings.
 *
 * @module
 */

/**
 * `1`/`true` → true, `0`/`false` → false (any case); null for anything else,
 * for the caller to report with its own error type.
 *
 * @example
 * ```ts
 * import { parseEnvBoolean } from "./env_boolean.ts";
 * parseEnvBoolean("TRUE"); // true
 * parseEnvBoolean("yes"); // null
 * ```
 */
export function parseEnvBoolean(value: string): boolean | null {
  const text = value.toLowerCase();
  if (text === "1" || text === "true") return true;
  if (text === "0" || text === "false") return false;
  return null;
}
