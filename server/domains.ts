/**
 * The server's domain files: loaded at start, reloaded on change. A bad file
 * on reload is rejected with a log line and the previous version stays.
 *
 * @module
 */

import { basename, extname, join } from "node:path";
import type { Logger } from "@logtape/logtape";
import type { ServerDomain } from "./config_types.ts";
import { parseServerDomain } from "./config.ts";
import { type Watch, watchPaths } from "../shared/fs/watch.ts";

/** What changed for one domain: `after` is undefined when it was removed. */
export interface DomainChange {
  /** Domain name. */
  name: string;
  /** The version before, if any. */
  before: ServerDomain | undefined;
  /** The version now in force, if any. */
  after: ServerDomain | undefined;
}

/** Domain files of one folder, by domain name. */
export class DomainRegistry {
  readonly #folder: string;
  readonly #log: Logger;
  readonly #domains = new Map<string, ServerDomain>();
  readonly #listeners: ((change: DomainChange) => void)[] = [];
  #watch: Watch | null = null;
  #rejected = 0;

  /** A registry for the `*.jsonc` files of `folder`. */
  constructor(folder: string, log: Logger) {
    this.#folder = folder;
    this.#log = log;
  }

  /** Number of domains loaded. */
  get size(): number {
    return this.#domains.size;
  }

  /** Domain files rejected on reload so far (each logged; the previous version stayed). */
  get rejected(): number {
    return this.#rejected;
  }

  /** The domain's current configuration. */
  get(name: string): ServerDomain | undefined {
    return this.#domains.get(name);
  }

  /** Calls `fn` after each domain is added, changed or removed. */
  onChange(fn: (change: DomainChange) => void): void {
    this.#listeners.push(fn);
  }

  /**
   * Loads every domain file. A missing folder counts as empty.
   *
   * @throws {ConfigError} for the first invalid file: the server must not start with it.
   */
  async load(): Promise<void> {
    for (const file of await this.#files()) {
      const domain = parseServerDomain(file, await Deno.readTextFile(file));
      this.#domains.set(domain.name, domain);
    }
  }

  /** Starts watching the folder for added, changed and removed files. */
  watch(): void {
    if (this.#watch !== null) return;
    try {
      Deno.mkdirSync(this.#folder, { recursive: true });
    } catch {
      // Read-only place: watching fails below with a clear error.
    }
    this.#watch = watchPaths([this.#folder], (changed) => this.#reload(changed), {
      onError: (e) => this.#log.error("Domain folder watch failed: {error}", { error: String(e) }),
    });
  }

  /** Stops watching. */
  async close(): Promise<void> {
    await this.#watch?.close();
    this.#watch = null;
  }

  async #files(): Promise<string[]> {
    const files: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.#folder)) {
        if (entry.isFile && extname(entry.name) === ".jsonc") {
          files.push(join(this.#folder, entry.name));
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return files.sort();
  }

  async #reload(changed: Set<string>): Promise<void> {
    for (const file of changed) {
      if (extname(file) !== ".jsonc") continue;
      const name = basename(file, ".jsonc").toLowerCase();
      const before = this.#domains.get(name);
      let text: string;
      try {
        text = await Deno.readTextFile(file);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        if (before === undefined || before.file !== file) continue;
        this.#domains.delete(name);
        this.#log.info("Domain {domain} removed", { domain: name });
        this.#emit({ name, before, after: undefined });
        continue;
      }
      let after: ServerDomain;
      try {
        after = parseServerDomain(file, text);
      } catch (e) {
        this.#rejected++;
        this.#log.error("Domain file rejected, previous version stays: {error}", {
          domain: name,
          error: (e as Error).message,
        });
        continue;
      }
      this.#domains.set(after.name, after);
      this.#log.info(before ? "Domain {domain} changed" : "Domain {domain} added", {
        domain: after.name,
      });
      this.#emit({ name: after.name, before, after });
    }
  }

  #emit(change: DomainChange): void {
    for (const fn of this.#listeners) fn(change);
  }
}
