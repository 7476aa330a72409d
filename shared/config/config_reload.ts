/**
 * What re-reading a running role's configuration did: `systemctl reload`
 * sends SIGHUP, and the role re-reads everything it can apply while running
 * (what its watchers apply on a change), whether or not a watcher saw it.
 *
 * @module
 */

/**
 * The outcome of one re-read, for the log line that answers the signal.
 *
 * @example
 * ```ts
 * import type { ConfigReload } from "./config_reload.ts";
 * const done: ConfigReload = { changed: ["domain app.example.com"], rejected: 0, restart: [] };
 * ```
 */
export interface ConfigReload {
  /** What was added, changed or removed: `domain NAME`, `agent NAME`, `certificates`, … */
  changed: string[];
  /** Files refused (each logged with its error; the previous version stays). */
  rejected: number;
  /** What changed but is read at start only: a restart applies it. */
  restart: string[];
}

/**
 * A list for a log line: `a, b`, or `none` when empty.
 *
 * @example
 * ```ts
 * import { listForLog } from "./config_reload.ts";
 * listForLog([]); // "none"
 * ```
 */
export function listForLog(items: readonly string[]): string {
  return items.length === 0 ? "none" : items.join(", ");
}
