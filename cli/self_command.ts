/**
 * How to run this very Burrow again from a shell, for the command lines
 * `burrow demo` prints: the compiled binary's path, or the Deno executable
 * running `main.ts` with every permission. Absolute paths, so a line works
 * as printed from any folder, whether or not `burrow` or `deno` is on PATH.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The words that start this Burrow: `[binary]` or `[deno, "run", "-A", main.ts]`. */
export function selfCommand(): string[] {
  if (Deno.build.standalone) return [Deno.execPath()];
  return [Deno.execPath(), "run", "-A", fileURLToPath(new URL("../main.ts", import.meta.url))];
}

/** `words` as one POSIX shell line, each word quoted only when it needs it. */
export function shellLine(words: readonly string[]): string {
  return words.map((w) => /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", `'"'"'`)}'`)
    .join(" ");
}
