/**
 * Asking for a secret on the terminal without echoing it: raw mode, and a
 * small line editor over the bytes typed ({@link HiddenLine}). Deno has no
 * no-echo prompt of its own. Used by `burrow password` and `burrow agent`.
 *
 * @module
 */

/** What feeding bytes to a {@link HiddenLine} led to. */
export type LineState = "more" | "done" | "abort";

/**
 * A line editor for typing a secret in raw terminal mode: collects bytes until
 * Enter, handles Backspace (whole UTF-8 characters), Ctrl-U (clear), Ctrl-C
 * (abort) and Ctrl-D on an empty line (abort), and drops other control keys
 * and escape sequences (arrow keys).
 *
 * @example
 * ```ts
 * import { HiddenLine } from "./password.ts";
 * const line = new HiddenLine();
 * line.feed(new TextEncoder().encode("pw\x7fW\r")); // "done"
 * line.value; // "pW"
 * ```
 */
export class HiddenLine {
  #bytes: number[] = [];
  #escape: "none" | "start" | "csi" | "ss3" = "none";

  /** The text typed so far. */
  get value(): string {
    return new TextDecoder().decode(new Uint8Array(this.#bytes));
  }

  /** Feeds keyboard bytes; stops at the first byte that ends the line. */
  feed(bytes: Uint8Array): LineState {
    for (const byte of bytes) {
      const state = this.#key(byte);
      if (state !== "more") return state;
    }
    return "more";
  }

  #key(byte: number): LineState {
    if (this.#escape !== "none") {
      // Skip ESC [ params final (until a byte 0x40–0x7e), ESC O x, and ESC x.
      if (this.#escape === "start" && byte === 0x5b) this.#escape = "csi";
      else if (this.#escape === "start" && byte === 0x4f) this.#escape = "ss3";
      else if (this.#escape !== "csi" || (byte >= 0x40 && byte <= 0x7e)) this.#escape = "none";
      return "more";
    }
    switch (byte) {
      case 0x0d: // Enter (raw mode sends CR)
      case 0x0a:
        return "done";
      case 0x03: // Ctrl-C
        return "abort";
      case 0x04: // Ctrl-D
        return this.#bytes.length === 0 ? "abort" : "more";
      case 0x7f: // Backspace
      case 0x08:
        while (this.#bytes.length > 0 && ((this.#bytes.pop() ?? 0) & 0xc0) === 0x80) {
          // popped a UTF-8 continuation byte: keep going to the lead byte
        }
        return "more";
      case 0x15: // Ctrl-U
        this.#bytes = [];
        return "more";
      case 0x1b:
        this.#escape = "start";
        return "more";
    }
    if (byte >= 0x20) this.#bytes.push(byte);
    return "more";
  }
}

/** Writes `text` to stderr (prompts go there, so stdout holds only the output). */
async function say(text: string): Promise<void> {
  await Deno.stderr.write(new TextEncoder().encode(text));
}

/**
 * Prompts on the terminal (stdin in raw mode, the prompt on stderr) with echo
 * off; resolves to the line typed, or null after Ctrl-C or Ctrl-D.
 *
 * @example
 * ```ts
 * import { promptHidden } from "./hidden_prompt.ts";
 * if (Deno.stdin.isTerminal()) console.log((await promptHidden("Secret: "))?.length);
 * ```
 */
export async function promptHidden(prompt: string): Promise<string | null> {
  const line = new HiddenLine();
  const buffer = new Uint8Array(64);
  Deno.stdin.setRaw(true); // before the prompt, so nothing typed after it is echoed
  try {
    await say(prompt);
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) return null;
      const state = line.feed(buffer.subarray(0, n));
      if (state === "done") return line.value;
      if (state === "abort") return null;
    }
  } finally {
    Deno.stdin.setRaw(false);
    await say("\n");
  }
}
