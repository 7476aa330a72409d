/**
 * Follows the files of the agent-certificate listener (`agentCertificates`:
 * `ca`, `cert`, `key`) while the server runs, the way the HTTPS
 * certificates are followed: a change on disk (watched) or a reload
 * (SIGHUP, `ServerHandle.reloadConfig`) re-reads them, and new contents that
 * pass the checks of `agent_tls_files.ts` are handed to the listener
 * (`server.setSecureContext()`): new handshakes use them, established
 * connections keep theirs. A bad file keeps the previous contents in use,
 * with one error naming the file (not one per watch event: the same bad
 * contents are reported once).
 *
 * @module
 */

import { dirname } from "node:path";
import type { Logger } from "@logtape/logtape";
import { type Watch, watchPaths } from "../shared/fs/watch.ts";
import { type AgentTlsPem, readAgentTlsFiles } from "./agent_tls_files.ts";
import type { CertificatePair } from "./config_types.ts";

/** What a reload did: new contents in use, the same contents, or a bad file (logged). */
export type AgentTlsReloadResult = "changed" | "unchanged" | "failed";

/** Options of {@linkcode AgentTlsReload}. */
export interface AgentTlsReloadOptions {
  /** The three files. */
  files: CertificatePair & { ca: string };
  /** The contents in use (read at start). */
  initial: AgentTlsPem;
  /** Puts checked new contents in use (the listener's `setSecureContext`). */
  apply: (pem: AgentTlsPem) => void;
  /** System log. */
  log: Logger;
  /** Quiet time before a burst of file events is acted on, in ms. Default 100. */
  debounceMs?: number;
}

/**
 * Re-reads the listener's files on demand or when they change.
 *
 * @example
 * ```ts ignore
 * const follow = new AgentTlsReload({ files, initial, apply: (pem) => server.setSecureContext(pem), log });
 * follow.watch();
 * await follow.reload(); // "changed" | "unchanged" | "failed"
 * await follow.close();
 * ```
 */
export class AgentTlsReload {
  readonly #options: AgentTlsReloadOptions;
  #current: AgentTlsPem;
  /** The error last logged, so that the same bad contents are reported once. */
  #lastError: string | null = null;
  #running: Promise<unknown> = Promise.resolve();
  #watch: Watch | null = null;

  /** Follows `options.files`, whose contents in use are `options.initial`. */
  constructor(options: AgentTlsReloadOptions) {
    this.#options = options;
    this.#current = options.initial;
  }

  /** The files followed (absolute paths, as configured). */
  get files(): string[] {
    const { ca, cert, key } = this.#options.files;
    return [...new Set([ca, cert, key])];
  }

  /**
   * Re-reads the files and, when they changed and pass the checks, puts
   * them in use. Reloads run one at a time, in call order; never throws.
   */
  reload(): Promise<AgentTlsReloadResult> {
    const next = this.#running.then(() => this.#reloadNow());
    this.#running = next;
    return next;
  }

  /** Starts watching the files' folders: a change to one of the files reloads. */
  watch(): void {
    if (this.#watch !== null) return;
    const files = this.files;
    this.#watch = watchPaths(
      [...new Set(files.map((f) => dirname(f)))],
      async (changed) => {
        if (files.some((f) => changed.has(f))) await this.reload();
      },
      {
        debounceMs: this.#options.debounceMs ?? 100,
        recursive: false,
        onError: (e) =>
          this.#options.log.error("Agent certificate files: watching stopped: {error}", {
            error: (e as Error).message,
          }),
      },
    );
  }

  /** Stops watching; resolves once no reload runs. */
  async close(): Promise<void> {
    await this.#watch?.close();
    this.#watch = null;
    await this.#running;
  }

  async #reloadNow(): Promise<AgentTlsReloadResult> {
    const { log } = this.#options;
    let pem: AgentTlsPem;
    try {
      pem = await readAgentTlsFiles(this.#options.files);
    } catch (e) {
      const error = (e as Error).message;
      if (error !== this.#lastError) {
        this.#lastError = error;
        log.error(
          "Agent certificate files not reloaded, the previous ones stay in use: {error}",
          { error },
        );
      }
      return "failed";
    }
    this.#lastError = null;
    const was = this.#current;
    if (pem.ca === was.ca && pem.cert === was.cert && pem.key === was.key) return "unchanged";
    try {
      this.#options.apply(pem);
    } catch (e) {
      const error = (e as Error).message;
      log.error(
        "Agent certificate files not reloaded, the previous ones stay in use: {error}",
        { error },
      );
      return "failed";
    }
    this.#current = pem;
    const changed = [
      ...(pem.ca !== was.ca ? [this.#options.files.ca] : []),
      ...(pem.cert !== was.cert ? [this.#options.files.cert] : []),
      ...(pem.key !== was.key ? [this.#options.files.key] : []),
    ];
    log.info(
      "Agent certificate files reloaded ({files}): new connections use them, connected agents stay",
      { files: changed.join(", ") },
    );
    return "changed";
  }
}
