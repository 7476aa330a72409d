/**
 * `burrow token`: makes a new operator bearer token, prints it once, and the
 * hash to store as `"token"` in the server's `operators.d/<name>.jsonc`. The
 * server keeps only the hash (`shared/auth/token.ts` says why SHA-256 is
 * enough for a random token); the token itself is stored nowhere.
 *
 * @module
 */

import { isIdentityName, NAME_HINT } from "../shared/auth/identity_name.ts";
import { generateToken, hashToken } from "../shared/auth/token.ts";
import { parseFlags, runWithUsage, UsageError } from "./usage.ts";

/** Usage text of `burrow token`. */
export const TOKEN_USAGE = `Usage: burrow token [--name <operator>] [--json]

Make a new operator token (burrow_ and 43 random characters, 256 bits) and
print it with its hash:

  token: burrow_...
  hash: sha256:...

Give the token to the operator (it is shown only this once and stored
nowhere); store the hash as "token" in the server's operators.d/<name>.jsonc.
The server reloads the file by itself.

Options:
  --name <operator>  Name the operator file in the hint (stderr)
  --json             Print {"token": "...", "hash": "..."} instead
  -h, --help         Show this help`;

/**
 * Runs `burrow token`: resolves to 0, or 2 for a usage mistake.
 *
 * @example
 * ```ts
 * import { tokenCommand } from "./token.ts";
 * Deno.exitCode = await tokenCommand(["--name", "alice"]);
 * ```
 */
export async function tokenCommand(args: string[]): Promise<number> {
  return await runWithUsage(() => {
    const flags = parseFlags(args, {
      options: {
        name: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      usage: TOKEN_USAGE,
    });
    if (flags.help) {
      console.log(TOKEN_USAGE);
      return 0;
    }
    const name = flags.name?.toLowerCase() ?? "<name>";
    if (flags.name !== undefined && !isIdentityName(name)) {
      throw new UsageError(`--name ${JSON.stringify(flags.name)} is not ${NAME_HINT}`, TOKEN_USAGE);
    }
    const token = generateToken();
    const hash = hashToken(token);
    if (flags.json) {
      console.log(JSON.stringify({ token, hash }));
    } else {
      console.log(`token: ${token}\nhash: ${hash}`);
    }
    console.error(
      `Give the token to the operator: it is shown only this once.\n` +
        `Store the hash as "token" in the server's operators.d/${name}.jsonc.`,
    );
    return 0;
  });
}
