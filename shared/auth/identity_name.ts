/**
 * Names of agents and operators: the file name of their `agents.d` /
 * `operators.d` file on the server, the `name` an agent identifies with,
 * and what operator agent selectors match against.
 *
 * A name is 1 to 253 characters of lower-case letters, digits, `.`, `-` and
 * `_`, starting and ending with a letter or digit (so every DNS host name
 * is one, and so are Windows computer names like `desktop_7`). Names are
 * case-insensitive: they are lower-cased when read.
 *
 * @module
 */

import { basename } from "node:path";
import { ConfigError } from "../config/jsonc.ts";

/** Longest name. */
export const MAX_NAME_LENGTH = 253;

const NAME = /^[a-z0-9](?:[a-z0-9._-]{0,251}[a-z0-9])?$/;

/**
 * Whether `name` (already lower-cased) is a valid agent or operator name.
 *
 * @example
 * ```ts
 * import { isIdentityName } from "./identity_name.ts";
 * isIdentityName("db1.customer-a"); // true
 * isIdentityName("-db1"); // false
 * ```
 */
export function isIdentityName(name: string): boolean {
  return NAME.test(name);
}

/** What a name looks like, for error messages. */
export const NAME_HINT =
  "a name of letters, digits, '.', '-' and '_' starting and ending with a letter or digit";

/**
 * The name an `agents.d` or `operators.d` file is for: its file name without
 * `.jsonc`, lower-cased.
 *
 * @throws {ConfigError} code `invalid` when that is not a valid name.
 * @example
 * ```ts
 * import { identityNameOfFile } from "./identity_name.ts";
 * identityNameOfFile("conf/agents.d/DB1.jsonc"); // "db1"
 * ```
 */
export function identityNameOfFile(file: string): string {
  const base = basename(file);
  const name = (base.endsWith(".jsonc") ? base.slice(0, -".jsonc".length) : base).toLowerCase();
  if (!isIdentityName(name)) {
    throw new ConfigError(
      `File name must be ${NAME_HINT}, followed by ".jsonc", like "db1.jsonc"`,
      { code: "invalid", file },
    );
  }
  return name;
}
