/**
 * A domains folder kept in memory: loaded at start (strictly: see
 * `domain_folder.ts`), then watched, each changed file re-read and either
 * applied or rejected with a log line while its previous version stays.
 * Used by the server's domain registry and the agent's domain folder.
 *
 * @module
 */

import { resolve } from "node:path";
import type { Logger } from "@logtape/logtape";
import { type Watch, watchPaths } from "../fs/watch.ts";
import { ConfigError } from "./jsonc.ts";
import {
  capitalized,
  type DomainEntry,
  domainFileOf,
  type DomainParser,
  duplicateError,
  type EntryNoun,
  listDomainFiles,
  readDomainFile,
  readDomainFolder,
} from "./domain_folder.ts";

/** What changed for one domain: `after` is undefined when it was removed. */
export interface DomainChange<T> {
  /** Domain name. */
  name: string;
  /** The version before, if any. */
  before: T | undefined;
  /** The version now in force, if any. */
  after: T | undefined;
}

/** What {@linkcode DomainLoader.rescan} did. */
export interface DomainRescan<T> {
  /** Domains added, changed (file text differs) or removed, as the watcher reports them. */
  changes: DomainChange<T>[];
  /** Files rejected by this rescan (each logged; the previous version stays). */
  rejected: number;
}

/** Options of {@linkcode DomainLoader.watch}. */
export interface DomainWatchOptions {
  /** Quiet time before a burst of changes is applied, in ms. Default 100. */
  debounceMs?: number;
}

/**
 * The domain files of one folder, by domain name.
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { DomainLoader } from "./domain_loader.ts";
 * import { domainNameOfFile } from "./jsonc.ts";
 * const loader = new DomainLoader("conf/server.d", {
 *   parse: (file) => ({ name: domainNameOfFile(file), file }),
 *   log: getLogger(["burrow", "server"]),
 * });
 * await loader.load(); // throws a ConfigError for a missing folder or a bad file
 * loader.watch((changes) => console.log(changes.map((c) => c.name)));
 * await loader.close();
 * ```
 */
export class DomainLoader<T extends DomainEntry> {
  readonly #folder: string;
  readonly #parse: DomainParser<T>;
  readonly #log: Logger;
  readonly #mainFile: string | undefined;
  readonly #noun: EntryNoun;
  readonly #key: string;
  readonly #domains = new Map<string, T>();
  /** The text each parsed entry came from: a rescan skips files that did not change. */
  readonly #textOf = new WeakMap<T, string>();
  /** The watcher's callback, called by a rescan too. */
  #onChange: ((changes: DomainChange<T>[]) => void | Promise<void>) | null = null;
  /** Watcher reloads and rescans run one after another, never overlapping. */
  #queue: Promise<unknown> = Promise.resolve();
  /** The folder with symbolic links resolved, as the watcher may report it. */
  #realFolder: string;
  #watch: Watch | null = null;
  #rejected = 0;

  /**
   * A loader for `folder` (resolved against the working directory).
   * `mainFile`, the main config that names the folder, is quoted when the
   * folder is missing. `noun` says what the files are in messages and logs
   * (default "domain"); `key`, the main file's key that names the folder
   * (default "domains").
   */
  constructor(
    folder: string,
    options: {
      parse: DomainParser<T>;
      log: Logger;
      mainFile?: string;
      noun?: EntryNoun;
      key?: string;
    },
  ) {
    this.#folder = resolve(folder);
    this.#realFolder = this.#folder;
    this.#parse = (file, text) => {
      const entry = options.parse(file, text);
      this.#textOf.set(entry, text);
      return entry;
    };
    this.#log = options.log;
    this.#mainFile = options.mainFile;
    this.#noun = options.noun ?? "domain";
    this.#key = options.key ?? "domains";
  }

  /** The folder (absolute). */
  get folder(): string {
    return this.#folder;
  }

  /** Number of domains in force. */
  get size(): number {
    return this.#domains.size;
  }

  /** Domain files rejected while watching so far (each logged). */
  get rejected(): number {
    return this.#rejected;
  }

  /** The domains in force, sorted by file. */
  get domains(): T[] {
    return [...this.#domains.values()].sort((a, b) =>
      a.file < b.file ? -1 : a.file > b.file ? 1 : 0
    );
  }

  /** The domain's current version. */
  get(name: string): T | undefined {
    return this.#domains.get(name);
  }

  /**
   * Reads every domain file, replacing what was loaded. Logs a warning when
   * the folder holds no domain file.
   *
   * @throws {ConfigError} when the folder is missing or unreadable, or for the
   * first file that does not validate (the message says how many failed).
   */
  async load(): Promise<T[]> {
    let results;
    try {
      results = await readDomainFolder(this.#folder, this.#parse, this.#noun);
    } catch (e) {
      if (!(e instanceof ConfigError) || this.#mainFile === undefined) throw e;
      const detail = `${e.detail} (the "${this.#key}" folder of ${this.#mainFile})`;
      throw new ConfigError(detail, { code: e.code, file: e.file, cause: e.cause });
    }
    const failed = results.filter((r) => r.error !== undefined);
    const first = failed[0]?.error;
    if (first !== undefined) {
      if (failed.length === 1) throw first;
      const others = `(and ${failed.length - 1} more invalid ${this.#noun} file(s))`;
      throw new ConfigError(`${first.detail} ${others}`, { ...first, cause: first });
    }
    this.#domains.clear();
    for (const r of results) if (r.domain !== undefined) this.#domains.set(r.domain.name, r.domain);
    if (results.length === 0) {
      this.#log.warn(
        `${capitalized(this.#noun)} folder {folder} has no ${this.#noun} files: no ${this.#noun}s`,
        {
          folder: this.#folder,
        },
      );
    }
    return this.domains;
  }

  /**
   * Watches the folder; calls `onChange` with what changed after each burst
   * of changes that added, changed or removed a domain. Calls never overlap.
   */
  watch(
    onChange: (changes: DomainChange<T>[]) => void | Promise<void>,
    options: DomainWatchOptions = {},
  ): void {
    if (this.#watch !== null) return;
    this.#onChange = onChange;
    try {
      this.#realFolder = Deno.realPathSync(this.#folder);
    } catch {
      // Gone since load(): watching fails below with a clear error.
    }
    this.#watch = watchPaths([this.#folder], (changed) =>
      this.#serial(async () => {
        const changes = await this.#reload(changed);
        if (changes.length > 0) await onChange(changes);
      }), {
      debounceMs: options.debounceMs ?? 100,
      onError: (e) =>
        this.#log.error(`${capitalized(this.#noun)} folder watch failed: {error}`, {
          error: String(e),
        }),
    });
  }

  /**
   * Re-reads the whole folder now, as on SIGHUP: for what a watcher can miss
   * (a file behind a symbolic link changed, a network file system, events
   * lost). Files whose text did not change are left alone; the changes go
   * to the `watch` callback, as the watcher's would. Never throws: a missing
   * folder is logged and everything stays.
   */
  rescan(): Promise<DomainRescan<T>> {
    return this.#serial(async () => {
      const before = this.#rejected;
      let listed: string[];
      try {
        listed = await listDomainFiles(this.#folder, this.#noun);
      } catch (e) {
        this.#rejected++;
        this.#log.error(
          `${capitalized(this.#noun)} folder not re-read, everything stays: {error}`,
          {
            error: (e as Error).message,
          },
        );
        return { changes: [], rejected: 1 };
      }
      const files = new Set([...listed, ...[...this.#domains.values()].map((d) => d.file)]);
      const changed = new Set<string>();
      for (const file of files) if (!(await this.#sameText(file))) changed.add(file);
      const changes = await this.#reload(changed);
      if (changes.length > 0) await this.#onChange?.(changes);
      return { changes, rejected: this.#rejected - before };
    });
  }

  /** Stops watching and resolves once the watcher is closed. */
  async close(): Promise<void> {
    await this.#watch?.close();
    this.#watch = null;
  }

  /** Runs `fn` after every reload queued before it. */
  #serial<R>(fn: () => Promise<R>): Promise<R> {
    const run = this.#queue.then(fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Whether `file` still holds the text its entry in force was parsed from. */
  async #sameText(file: string): Promise<boolean> {
    const current = [...this.#domains.values()].find((d) => d.file === file);
    if (current === undefined) return false;
    try {
      return await Deno.readTextFile(file) === this.#textOf.get(current);
    } catch {
      return false;
    }
  }

  /** Applies changed paths; returns the domain changes. */
  async #reload(changed: Set<string>): Promise<DomainChange<T>[]> {
    const changes: DomainChange<T>[] = [];
    for (const path of [...changed].sort()) {
      const file = domainFileOf(path, this.#folder, this.#realFolder);
      if (file === null) continue;
      const change = await this.#reloadFile(file);
      if (change !== null) changes.push(change);
    }
    return changes;
  }

  /** Re-reads one domain file: the change it makes, or null. */
  async #reloadFile(file: string): Promise<DomainChange<T> | null> {
    const current = [...this.#domains.values()].find((d) => d.file === file);
    let after: T;
    try {
      after = await readDomainFile(file, this.#parse);
      const other = this.#domains.get(after.name);
      if (other !== undefined && other.file !== file) {
        throw duplicateError(file, other.file, this.#noun);
      }
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const gone = e.code === "io" && e.cause instanceof Deno.errors.NotFound;
      if (gone) {
        if (current === undefined) return null;
        this.#domains.delete(current.name);
        this.#log.info(`${capitalized(this.#noun)} {domain} removed`, { domain: current.name });
        return { name: current.name, before: current, after: undefined };
      }
      this.#rejected++;
      this.#log.error(`${capitalized(this.#noun)} file rejected, {kept}: {error}`, {
        kept: current === undefined ? "not loaded" : "previous version stays",
        error: e.message,
      });
      return null;
    }
    this.#domains.set(after.name, after);
    const noun = capitalized(this.#noun);
    this.#log.info(current ? `${noun} {domain} changed` : `${noun} {domain} added`, {
      domain: after.name,
    });
    return { name: after.name, before: current, after };
  }
}
