/**
 * The agent's domain folder: the shared domain-folder loader with the
 * agent's parser, reporting the whole domain list after each change. At
 * start a missing folder or an invalid file refuses the start (as
 * `burrow check` fails on them); while running, a file that fails to parse
 * is rejected with a log line and its previous version stays.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { AgentDomain } from "./config_types.ts";
import { parseAgentDomain } from "./config.ts";
import { DomainLoader, type DomainWatchOptions } from "../shared/config/domain_loader.ts";

export type { DomainWatchOptions } from "../shared/config/domain_loader.ts";

/**
 * The domain files of one folder.
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
  readonly #loader: DomainLoader<AgentDomain>;

  /**
   * A folder of domain files; `folder` is resolved against the working
   * directory. `mainFile`, the agent's main config naming the folder, is
   * quoted when the folder is missing (as the server does).
   */
  constructor(folder: string, log: Logger, options: { mainFile?: string } = {}) {
    this.#loader = new DomainLoader(folder, {
      parse: (f, t) => parseAgentDomain(f, t),
      log,
      mainFile: options.mainFile,
    });
  }

  /** The domains in force, sorted by file. */
  get domains(): AgentDomain[] {
    return this.#loader.domains;
  }

  /**
   * Reads every domain file.
   *
   * @throws {ConfigError} when the folder is missing, or for an invalid file:
   * the agent must not start with it.
   */
  async load(): Promise<AgentDomain[]> {
    return await this.#loader.load();
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
    this.#loader.watch(() => onChange(this.domains), options);
  }

  /**
   * Re-reads the whole folder now (SIGHUP); a change reaches the `watch`
   * callback as the watcher's do. Resolves to the domains changed and the
   * number of files rejected.
   */
  async rescan(): Promise<{ changed: string[]; rejected: number }> {
    const r = await this.#loader.rescan();
    return { changed: r.changes.map((c) => c.name), rejected: r.rejected };
  }

  /** Stops watching and resolves once the watcher is closed. */
  async close(): Promise<void> {
    await this.#loader.close();
  }
}
