/**
 * Published ports (frp's remote ports): public TCP ports the server listens
 * on, each carried to a target through one agent, from the `publish` key of
 * the server's main file, which is watched and re-applied while the server
 * runs. `startServer` calls {@linkcode startPublishing}.
 *
 * @module
 */

import type { ServerConfig } from "../config_types.ts";
import type { Watch } from "../../shared/fs/watch.ts";
import { PublishedPorts } from "./published_ports.ts";
import type { PublishedPortOptions } from "./published_port.ts";
import { type PublishReload, PublishReloader } from "./publish_reload.ts";

export * from "./publish_config.ts";
export * from "./published_port.ts";
export * from "./published_ports.ts";
export * from "./publish_reload.ts";

/** Options of {@linkcode startPublishing}. */
export interface PublishingOptions extends PublishedPortOptions {
  /** Called after every reload of the main file (tests wait on it). */
  onReload?: (outcome: PublishReload) => void;
  /** Quiet time after the last file event before reading, ms. Default 100. */
  debounceMs?: number;
}

/** Published ports running, and the watch that keeps them in step with the file. */
export interface Publishing {
  /** The ports in force. */
  readonly ports: PublishedPorts;
  /** Re-reads the main file now and applies its `publish` key (what the watch does on a change). */
  reload(): Promise<PublishReload>;
  /** Stops the watch, then closes every port and its connections. */
  close(): Promise<void>;
}

/**
 * Starts `config.publish` and watches `config.file`: on a change the file is
 * validated whole and its `publish` entries applied (see `publish_reload.ts`).
 * With no such file (a config given as text) nothing is watched; a folder
 * that cannot be watched is logged; either way the ports run without reload.
 *
 * @throws {Error} when an entry cannot listen (address taken, …); nothing stays open then.
 * @example
 * ```ts
 * const publishing = await startPublishing(config, { openChannel, log });
 * // …
 * await publishing.close();
 * ```
 */
export async function startPublishing(
  config: ServerConfig,
  options: PublishingOptions,
): Promise<Publishing> {
  const { openChannel, log } = options;
  const ports = new PublishedPorts({ openChannel, log });
  await ports.start(config.publish);
  const reloader = new PublishReloader(config, ports, {
    log,
    ...(options.onReload === undefined ? {} : { onReload: options.onReload }),
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
  });
  let watch: Watch | null = null;
  try {
    // A config given as text (tests, `burrow demo`) has no file: nothing to watch.
    if (await fileExists(config.file)) watch = reloader.watch();
  } catch (e) {
    log.warn("Cannot watch config file {file}; publish changes need a restart: {error}", {
      file: config.file,
      error: (e as Error).message,
    });
  }
  return {
    ports,
    reload: () => reloader.reload(),
    async close() {
      await watch?.close();
      await ports.close();
    },
  };
}

/** Whether `path` names an existing file. */
async function fileExists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
