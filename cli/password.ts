/**
 * `burrow password [secret]`: prints the SHA-512 crypt (`$6$`) hash of a
 * secret, to store in a server domain file (`secret`, or the password part of
 * `clients.credentials`) instead of the secret itself.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { hashSecret, MAX_SECRET_LENGTH } from "../shared/auth/secret.ts";
import { runWithUsage, UsageError } from "./usage.ts";
import { promptHidden } from "./hidden_prompt.ts";

export { HiddenLine, type LineState } from "./hidden_prompt.ts";

/** Usage text of `burrow password`. */
export const PASSWORD_USAGE = `Usage: burrow password [secret]

Print the SHA-512 crypt hash ($6$...) of a secret, for "secret" in a server
domain file or an agents.d file, the password in "clients.credentials", or
"token" in an operators.d file (a token a person chose). The hash verifies like
the secret itself; mkpasswd -m sha-512 and openssl passwd -6 make the same kind.

With no argument, asks for the secret twice on the terminal without echoing it
(an argument may stay in your shell history). When standard input is not a
terminal, reads the secret from its first line.

Options:
  -h, --help  Show this help`;

/** Exit code after Ctrl-C at the prompt, as shells report SIGINT. */
const INTERRUPTED_EXIT_CODE = 130;

/** Reads the first line of a non-terminal stdin (without its line ending). */
async function readFirstLine(): Promise<string> {
  const reader = Deno.stdin.readable.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.includes("\n")) break;
    }
  } finally {
    await reader.cancel();
  }
  return text.split("\n")[0]?.replace(/\r$/, "") ?? "";
}

/** Gets the secret from the terminal (twice) or stdin; a number is an exit code. */
async function readSecret(): Promise<string | number> {
  if (!Deno.stdin.isTerminal()) return await readFirstLine();
  const first = await promptHidden("Secret: ");
  if (first === null) return INTERRUPTED_EXIT_CODE;
  if (first === "") return first;
  const second = await promptHidden("Again: ");
  if (second === null) return INTERRUPTED_EXIT_CODE;
  if (second !== first) {
    console.error("burrow password: the two entries differ");
    return 1;
  }
  return first;
}

/**
 * Runs `burrow password`: prints the `$6$` hash of the argument, of a secret
 * typed twice on the terminal, or of stdin's first line. Resolves to 0, 1 for
 * an empty secret or differing entries, 2 for a usage mistake, 130 after Ctrl-C.
 *
 * @example
 * ```ts
 * import { passwordCommand } from "./password.ts";
 * Deno.exitCode = await passwordCommand(["change-me-please"]);
 * ```
 */
export async function passwordCommand(args: string[]): Promise<number> {
  return await runWithUsage(async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        options: { help: { type: "boolean", short: "h" } },
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      if (error instanceof TypeError) throw new UsageError(error.message, PASSWORD_USAGE);
      throw error;
    }
    if (parsed.values.help) {
      console.log(PASSWORD_USAGE);
      return 0;
    }
    if (parsed.positionals.length > 1) {
      throw new UsageError("Too many arguments: expected at most one secret", PASSWORD_USAGE);
    }
    const secret = parsed.positionals[0] ?? await readSecret();
    if (typeof secret === "number") return secret;
    if (secret === "") {
      console.error("burrow password: refusing an empty secret");
      return 1;
    }
    if (secret.length > MAX_SECRET_LENGTH) {
      console.error(`burrow password: refusing a secret over ${MAX_SECRET_LENGTH} characters`);
      return 1;
    }
    console.log(hashSecret(secret));
    return 0;
  });
}
