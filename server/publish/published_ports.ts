/**
 * The set of published ports in force: started from the config, changed
 * entry by entry when the config is reloaded, closed with the server.
 *
 * @module
 */

import { describePublish, type PublishEntry, samePublishEntry } from "./publish_config.ts";
import { PublishedPort, type PublishedPortOptions } from "./published_port.ts";

/** What {@linkcode PublishedPorts.apply} did, by entry key (listen address). */
export interface PublishChanges {
  /** Entries that started listening. */
  added: string[];
  /** Entries that stopped (their connections closed). */
  removed: string[];
  /** Entries restarted with new settings (their connections closed). */
  changed: string[];
  /** Entries that could not listen (address taken, …), with the reason; retried at the next reload. */
  failed: { key: string; error: string }[];
}

/**
 * Published ports by listen address.
 *
 * @example
 * ```ts
 * const ports = new PublishedPorts({ openChannel, log });
 * await ports.start(config.publish); // throws if an address is taken
 * await ports.apply(reloaded.publish); // { added, removed, changed, failed }
 * await ports.close();
 * ```
 */
export class PublishedPorts {
  readonly #options: PublishedPortOptions;
  readonly #ports = new Map<string, PublishedPort>();
  #closed = false;

  /** Ports that open channels with `options.openChannel` and log on `options.log`. */
  constructor(options: PublishedPortOptions) {
    this.#options = options;
  }

  /** The running port of the entry whose key (listen address) is `key`. */
  get(key: string): PublishedPort | undefined {
    return this.#ports.get(key);
  }

  /** Every running port, in the order they started. */
  list(): PublishedPort[] {
    return [...this.#ports.values()];
  }

  /**
   * Starts every entry. When one cannot listen, closes those started and
   * throws: a server does not start with a port it was told to publish taken.
   *
   * @throws {Error} the OS error of the first entry that cannot listen, naming it.
   */
  async start(entries: readonly PublishEntry[]): Promise<void> {
    try {
      for (const entry of entries) this.#listen(entry);
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /**
   * Makes `entries` the set in force: removed entries stop, changed ones
   * restart, new ones start; unchanged ones keep running with their
   * connections. Logs each change at INFO, each failure at ERROR.
   */
  async apply(entries: readonly PublishEntry[]): Promise<PublishChanges> {
    const changes: PublishChanges = { added: [], removed: [], changed: [], failed: [] };
    if (this.#closed) return changes;
    const { log } = this.#options;
    const wanted = new Map(entries.map((e) => [e.key, e]));
    for (const [key, port] of [...this.#ports]) {
      const entry = wanted.get(key);
      if (entry !== undefined && samePublishEntry(port.entry, entry)) continue;
      this.#ports.delete(key);
      await port.close();
      if (entry === undefined) {
        changes.removed.push(key);
        log.info("Published port {key} removed: {entry}", {
          key,
          entry: describePublish(port.entry),
        });
      } else {
        changes.changed.push(key);
        log.info("Published port {key} changed, restarting (its connections closed); was {entry}", {
          key,
          entry: describePublish(port.entry),
        });
      }
    }
    for (const entry of entries) {
      if (this.#ports.has(entry.key)) continue;
      try {
        this.#listen(entry);
      } catch (e) {
        changes.failed.push({ key: entry.key, error: (e as Error).message });
        changes.changed = changes.changed.filter((k) => k !== entry.key);
        log.error("{error}; retried at the next config change", { error: (e as Error).message });
        continue;
      }
      if (!changes.changed.includes(entry.key)) changes.added.push(entry.key);
    }
    return changes;
  }

  /** Closes every port and its connections; resolves once all are gone. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const ports = [...this.#ports.values()];
    this.#ports.clear();
    await Promise.all(ports.map((p) => p.close()));
  }

  /** Starts `entry`, or throws an error naming it. */
  #listen(entry: PublishEntry): void {
    try {
      this.#ports.set(entry.key, PublishedPort.listen(entry, this.#options));
    } catch (e) {
      throw new Error(`Cannot publish ${entry.key}: ${(e as Error).message}`, { cause: e });
    }
  }
}
