/**
 * The secrets of a command-line launch: given ones (a file read now, or the
 * text of a variable), checked as the config files check theirs, or asked
 * for once on a terminal.
 *
 * @module
 */

import { resolve } from "node:path";
import { ConfigError } from "../shared/config/jsonc.ts";
import { readSecretFile } from "./identity_config.ts";
import { LaunchError, type LaunchInputs, type SecretInput, type Sourced } from "./launch_inputs.ts";

/** A secret ready to use, with where it came from. */
export type Secret = Sourced<{ text: string; file: string | null }>;

/**
 * Gives out the secrets of one launch: reads secret files now (so a wrong
 * path fails at start, naming its flag), asks at most once.
 *
 * @example
 * ```ts
 * import { SecretSupply } from "./launch_secrets.ts";
 * const secrets = new SecretSupply(inputs, { prompt: null, cwd: Deno.cwd() });
 * const secret = await secrets.given() ?? await secrets.ask("agent db1");
 * ```
 */
export class SecretSupply {
  #inputs: LaunchInputs;
  #prompt: ((what: string) => Promise<string>) | null;
  #cwd: string;
  #asked: Promise<Secret> | null = null;

  /** A supply for `inputs`; `options.prompt` asks on a terminal (null: none), paths from `options.cwd`. */
  constructor(
    inputs: LaunchInputs,
    options: { prompt: ((what: string) => Promise<string>) | null; cwd: string },
  ) {
    this.#inputs = inputs;
    this.#prompt = options.prompt;
    this.#cwd = options.cwd;
  }

  /** The shared secret, if given. */
  async given(): Promise<Secret | null> {
    const input = this.#inputs.secret;
    return input === undefined ? null : await this.read(input);
  }

  /** Reads a given secret; a file's first line, checked now. */
  async read(input: Sourced<SecretInput>): Promise<Secret> {
    if ("text" in input.value) {
      const text = input.value.text;
      if (text === "") throw new LaunchError(input.from, "is empty");
      if (text.startsWith("$6$")) {
        throw new LaunchError(input.from, "holds a $6$ hash: the agent needs the secret itself");
      }
      return { value: { text, file: null }, from: input.from };
    }
    const path = resolve(this.#cwd, input.value.file);
    try {
      return { value: { text: await readSecretFile(path), file: path }, from: input.from };
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new LaunchError(input.from, `${error.detail} (${path})`);
    }
  }

  /** Asks for the shared secret (once), or fails naming `what` needs it. */
  ask(what: string): Promise<Secret> {
    const prompt = this.#prompt;
    if (prompt === null) {
      return Promise.reject(
        new LaunchError(
          "--secret-file",
          `${what} needs a secret: give --secret-file FILE, BURROW_SECRET_FILE or ` +
            "BURROW_SECRET (stdin is not a terminal to ask on)",
        ),
      );
    }
    this.#asked ??= prompt(`Secret for ${what}: `).then((text) =>
      this.read({ value: { text }, from: "prompt" })
    );
    return this.#asked;
  }
}
