/**
 * The agent's domain folder: every `*.jsonc` file in it is one domain,
 * loaded at start and reloaded on change. A file that fails to parse on
 * reload is rejected with a log line and its previous version stays.
 *
 * @module
 */

import { basename, dirname, extname, join, resolve } from "node:path";
import type { Logger } from "@logtape/logtape";
import type { AgentDomain } from "./config_types.ts";
import { parseAgentDomain } from "./config.ts";
import { listJsoncFiles } from "../shared/config/jsonc.ts";
import { type Watch, watchPaths } from "../shared/fs/watch.ts";

/** Options of {@linkcode DomainFolder.watch}. */
export interface DomainWatchOptions {
  /** Quiet time before a burst of changes is applied, in ms. Default 100. */
  debounceMs?: number;
}

/**
 * The domain files of one folder, by file.
 *
 * @example
 * ```ts
 * const folder = new DomainFolder(config.domains, log);
 * const agent = await startAgent(config, { domains: await folder.load(), log });
 * folder.watch((domains) => agent.reload(domains));
 * // …
 * await folder.close();
 * ```
 */
export class DomainFolder {
  readonly #folder: string;
  readonly #log: Logger;
  readonly #domains = new Map<string, AgentDomain>();
  /** The folder with symbolic links resolved, as the watcher may report it. */
  #realFolder: string;
  #watch: Watch | null = null;

  /** A folder of domain files; `folder` is resolved against the working directory. */
  constructor(folder: string, log: Logger) {
    this.#folder = resolve(folder);
    this.#realFolder = this.#folder;
    this.#log = log;
  }

  /** The domains in force, sorted by file. */
  get domains(): AgentDomain[] {
    return [...this.#domains].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, d]) => d);
  }

  /**
   * Reads every domain file. A missing folder counts as empty.
   *
   * @throws {ConfigError} for the first invalid file: the agent must not start with it.
   */
  async load(): Promise<AgentDomain[]> {
    let files: string[] = [];
    try {
      files = await listJsoncFiles(this.#folder);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      this.#log.warn("Domain folder {folder} does not exist: no domains", {
        folder: this.#folder,
      });
    }
    this.#domains.clear();
    for (const file of files) {
      this.#domains.set(file, parseAgentDomain(file, await Deno.readTextFile(file)));
    }
    return this.domains;
  }

  /**
   * Watches the folder and calls `onChange` with the whole new domain list
   * after each burst of changes that added, changed or removed a domain.
   * Calls never overlap.
   */
  watch(
    onChange: (domains: AgentDomain[]) => void | Promise<void>,
    options: DomainWatchOptions = {},
  ): void {
    if (this.#watch !== null) return;
    try {
      Deno.mkdirSync(this.#folder, { recursive: true });
      this.#realFolder = Deno.realPathSync(this.#folder);
    } catch {
      // Unreadable or read-only place: watching fails below with a clear error.
    }
    this.#watch = watchPaths([this.#folder], async (changed) => {
      if (await this.#reload(changed)) await onChange(this.domains);
    }, {
      debounceMs: options.debounceMs ?? 100,
      onError: (e) => this.#log.error("Domain folder watch failed: {error}", { error: String(e) }),
    });
  }

  /** Stops watching and resolves once the watcher is closed. */
  async close(): Promise<void> {
    await this.#watch?.close();
    this.#watch = null;
  }

  /** Applies changed files; true when the domain set changed. */
  async #reload(changed: Set<string>): Promise<boolean> {
    let dirty = false;
    for (const changedPath of [...changed].sort()) {
      const file = this.#domainFile(changedPath);
      if (file === null) continue;
      const before = this.#domains.get(file);
      let text: string;
      try {
        text = await Deno.readTextFile(file);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) {
          this.#log.error("Cannot read domain file {file}: {error}", {
            file,
            error: (e as Error).message,
          });
          continue;
        }
        if (before === undefined) continue;
        this.#domains.delete(file);
        this.#log.info("Domain {domain} removed", { domain: before.name });
        dirty = true;
        continue;
      }
      try {
        const after = parseAgentDomain(file, text);
        this.#domains.set(file, after);
        this.#log.info(before ? "Domain {domain} changed" : "Domain {domain} added", {
          domain: after.name,
        });
        dirty = true;
      } catch (e) {
        this.#log.error("Domain file rejected, {kept}: {error}", {
          kept: before === undefined ? "not loaded" : "previous version stays",
          error: (e as Error).message,
        });
      }
    }
    return dirty;
  }

  /**
   * The domain file a changed path stands for: a `*.jsonc` file directly in
   * the folder, not hidden (`.x`) or disabled (`_x`); null for anything else.
   */
  #domainFile(path: string): string | null {
    const name = basename(path);
    const dir = dirname(path);
    if (dir !== this.#folder && dir !== this.#realFolder) return null;
    if (extname(name) !== ".jsonc" || /^[._]/.test(name)) return null;
    return join(this.#folder, name);
  }
}
