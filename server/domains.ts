/**
 * The server's domain files: the shared domain-folder loader with the
 * server's parser, which fills what a domain file leaves out from the main
 * file (`limits.bodySize`, `transactionId`). Loaded at start (a missing
 * folder or an invalid file refuses the start, as `burrow check` fails on
 * them), reloaded on change (a bad file is rejected with a log line and the
 * previous version stays).
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { ServerConfig, ServerDomain } from "./config_types.ts";
import { serverDomainParser } from "./config.ts";
import {
  type DomainChange as Change,
  DomainLoader,
  type DomainRescan,
} from "../shared/config/domain_loader.ts";

/** What changed for one server domain: `after` is undefined when it was removed. */
export type DomainChange = Change<ServerDomain>;

/** What the registry needs of the main configuration. */
export type DomainRegistryConfig = Pick<
  ServerConfig,
  "file" | "domains" | "limits" | "transactionId"
>;

/** Domain files of one folder, by domain name. */
export class DomainRegistry {
  readonly #loader: DomainLoader<ServerDomain>;
  readonly #listeners: ((change: DomainChange) => void)[] = [];

  /** A registry for the domain files of `config.domains`, with the main file's defaults. */
  constructor(config: DomainRegistryConfig, log: Logger) {
    this.#loader = new DomainLoader(config.domains, {
      parse: serverDomainParser(config),
      log,
      mainFile: config.file,
    });
  }

  /** Number of domains loaded. */
  get size(): number {
    return this.#loader.size;
  }

  /** Domain files rejected on reload so far (each logged; the previous version stayed). */
  get rejected(): number {
    return this.#loader.rejected;
  }

  /** The domain's current configuration. */
  get(name: string): ServerDomain | undefined {
    return this.#loader.get(name);
  }

  /** Calls `fn` after each domain is added, changed or removed. */
  onChange(fn: (change: DomainChange) => void): void {
    this.#listeners.push(fn);
  }

  /**
   * Loads every domain file.
   *
   * @throws {ConfigError} when the folder is missing, or for an invalid file:
   * the server must not start with it.
   */
  async load(): Promise<void> {
    await this.#loader.load();
  }

  /** Starts watching the folder for added, changed and removed files. */
  watch(): void {
    this.#loader.watch((changes) => {
      for (const change of changes) for (const fn of this.#listeners) fn(change);
    });
  }

  /** Re-reads the whole folder now (SIGHUP); changes reach `onChange` as the watcher's do. */
  async rescan(): Promise<DomainRescan<ServerDomain>> {
    return await this.#loader.rescan();
  }

  /** Stops watching. */
  async close(): Promise<void> {
    await this.#loader.close();
  }
}
