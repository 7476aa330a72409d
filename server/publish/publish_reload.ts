/**
 * Hot reload of the `publish` key: the server's main file is watched; on a
 * change it is read and validated whole, and only its `publish` entries are
 * applied. Other keys take effect at the next start, which is said once.
 *
 * @module
 */

import { dirname } from "node:path";
import type { Logger } from "@logtape/logtape";
import { type Watch, watchPaths } from "../../shared/fs/watch.ts";
import { loadServerConfig } from "../config.ts";
import type { ServerConfig } from "../config_types.ts";
import type { PublishChanges, PublishedPorts } from "./published_ports.ts";
import { listForLog as list } from "../../shared/config/config_reload.ts";

/** What one reload did: the changes applied, or why the file was refused. */
export type PublishReload =
  | {
    ok: true;
    /** What changed among the published ports. */
    changes: PublishChanges;
    /** Top-level keys other than `publish` that differ from the running config. */
    restartKeys: string[];
  }
  | {
    ok: false;
    /** The error (file:line:col for a config mistake); the previous ports stay. */
    error: string;
  };

/** Options of {@linkcode PublishReloader}. */
export interface PublishReloaderOptions {
  /** System log. */
  log: Logger;
  /** Called after every reload with what it did (tests wait on it). */
  onReload?: (outcome: PublishReload) => void;
  /** Quiet time after the last file event before reading, ms. Default 100. */
  debounceMs?: number;
}

/**
 * The top-level keys (except `file` and `publish`) whose values differ
 * between two configs: what a reload cannot apply.
 *
 * @example
 * ```ts
 * changedKeys(running, reloaded); // ["limits", "agentPath"]
 * ```
 */
export function changedKeys(a: ServerConfig, b: ServerConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  keys.delete("file");
  keys.delete("publish");
  const text = (value: unknown) =>
    JSON.stringify(value, (_, v) => v instanceof RegExp ? `/${v.source}/${v.flags}` : v);
  return [...keys].filter((key) =>
    text((a as unknown as Record<string, unknown>)[key]) !==
      text((b as unknown as Record<string, unknown>)[key])
  );
}

/**
 * Re-reads the main file of a running server and applies its `publish`
 * entries to `ports`.
 *
 * @example
 * ```ts
 * const reloader = new PublishReloader(config, ports, { log });
 * const watch = reloader.watch(); // reloads on every change of config.file
 * await watch.close();
 * ```
 */
export class PublishReloader {
  readonly #running: ServerConfig;
  readonly #ports: PublishedPorts;
  readonly #options: PublishReloaderOptions;
  /** The reload running, if any: the next one waits for it. */
  #queue: Promise<unknown> = Promise.resolve();
  /** The restart keys last warned about, so each set is warned about once. */
  #warned = "";

  /** Reloads `running.file` into `ports`; `running` is the config the server started with. */
  constructor(running: ServerConfig, ports: PublishedPorts, options: PublishReloaderOptions) {
    this.#running = running;
    this.#ports = ports;
    this.#options = options;
  }

  /**
   * Reads and validates the file, then applies its `publish` entries. Never
   * throws. Calls (the watcher's, SIGHUP's) run one after another.
   */
  reload(): Promise<PublishReload> {
    const run = this.#queue.then(() => this.#reload());
    this.#queue = run.catch(() => {});
    return run;
  }

  async #reload(): Promise<PublishReload> {
    const { log } = this.#options;
    const file = this.#running.file;
    let outcome: PublishReload;
    let next: ServerConfig;
    try {
      next = await loadServerConfig(file);
    } catch (e) {
      outcome = { ok: false, error: (e as Error).message };
      log.error("Config file {file} not reloaded, published ports unchanged: {error}", {
        file,
        error: outcome.error,
      });
      this.#options.onReload?.(outcome);
      return outcome;
    }
    const changes = await this.#ports.apply(next.publish);
    const restartKeys = changedKeys(this.#running, next);
    this.#warnRestart(file, restartKeys);
    const { added, removed, changed, failed } = changes;
    if (added.length + removed.length + changed.length + failed.length > 0) {
      log.info(
        "Config file {file} reloaded: published ports added {added}, removed {removed}, changed {changed}, failed {failed}",
        {
          file,
          added: list(added),
          removed: list(removed),
          changed: list(changed),
          failed: list(failed.map((f) => f.key)),
        },
      );
    }
    outcome = { ok: true, changes, restartKeys };
    this.#options.onReload?.(outcome);
    return outcome;
  }

  /**
   * Watches the file's folder (not recursively: the data folder beside it
   * changes all the time) and reloads whenever the file changes, written in
   * place or replaced by a rename.
   */
  watch(): Watch {
    const file = this.#running.file;
    return watchPaths([dirname(file)], async (changed) => {
      if (changed.has(file)) await this.reload();
    }, {
      recursive: false,
      ...(this.#options.debounceMs === undefined ? {} : { debounceMs: this.#options.debounceMs }),
      onError: (e) =>
        this.#options.log.error("Watching config file {file} failed: {error}", {
          file,
          error: (e as Error).message,
        }),
    });
  }

  /** Warns once per set of changed keys that they wait for a restart. */
  #warnRestart(file: string, keys: string[]): void {
    const text = keys.join(", ");
    if (text === this.#warned) return;
    this.#warned = text;
    if (keys.length === 0) return;
    this.#options.log.warn(
      "Config file {file} changed {keys}: only publish is applied while running; restart the server for the rest",
      { file, keys: text },
    );
  }
}
