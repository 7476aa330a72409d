/**
 * The server main file's `dataDir` and `audit` keys: where the audit
 * database lives and how it is written, kept and grouped into sessions.
 * Documented in `docs/config.md` ("Sessions and audit").
 *
 * `dataDir` defaults to `data`, relative to the main file's folder like every
 * other path in it: `conf/server.jsonc` keeps its database in `conf/data/`,
 * `/etc/burrow/server.jsonc` in `/etc/burrow/data/`, the same under
 * `deno run` and a compiled binary (set `/var/lib/burrow` for a packaged
 * install). The folder is made at start when missing.
 *
 * @module
 */

import { dirname } from "node:path";
import type { ObjectReader } from "../../shared/config/fields.ts";

const SECOND = 1000;

/** Default of `dataDir`, relative to the main file's folder. */
export const DEFAULT_DATA_DIR = "data";

/** Defaults and bounds of the `audit` keys (durations in ms). */
export const AUDIT = {
  retentionDays: { default: 90, min: 0, max: 36_500 },
  flushInterval: { default: 500, min: 10, max: 10 * SECOND },
  batchSize: { default: 200, min: 1, max: 10_000 },
  queueSize: { default: 10_000, min: 100, max: 1_000_000 },
  sessionGrace: { default: 60 * SECOND, min: 0, max: 60 * 60 * SECOND },
} as const;

/** The `audit` section, validated. */
export interface AuditConfig {
  /** Days a finished session, channel or refusal is kept; 0 keeps everything. Default 90. */
  retentionDays: number;
  /** Longest a record waits before it is written, ms. Default 500 ms. */
  flushInterval: number;
  /** Most records written per transaction. Default 200. */
  batchSize: number;
  /** Most records waiting to be written; more are dropped, counted and logged. Default 10,000. */
  queueSize: number;
  /** How long an agent's session waits for it to reconnect before it ends, ms. Default 60 s. */
  sessionGrace: number;
}

/**
 * Reads the `audit` section (absent: every default).
 *
 * @throws {ConfigError} at the first value out of bounds or unknown key.
 * @example
 * ```ts
 * import { JsoncDocument } from "../../shared/config/jsonc.ts";
 * import { ObjectReader } from "../../shared/config/fields.ts";
 * import { parseAuditConfig } from "./config.ts";
 * const doc = JsoncDocument.parse("s.jsonc", '{ "audit": { "retentionDays": 30 } }');
 * parseAuditConfig(ObjectReader.root(doc).object("audit")); // sessionGrace: 60000, …
 * ```
 */
export function parseAuditConfig(r: ObjectReader): AuditConfig {
  const config: AuditConfig = {
    retentionDays: r.int("retentionDays", AUDIT.retentionDays),
    flushInterval: r.duration("flushInterval", AUDIT.flushInterval),
    batchSize: r.int("batchSize", AUDIT.batchSize),
    queueSize: r.int("queueSize", AUDIT.queueSize),
    sessionGrace: r.duration("sessionGrace", AUDIT.sessionGrace),
  };
  r.finish();
  return config;
}

/** `Deno.statSync`, or null when the path does not exist. */
function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw e;
  }
}

/**
 * What stops the server from using `dataDir` (absolute), or null when it
 * can: the folder exists, or can be made (its nearest existing ancestor is a
 * folder). Run by `burrow check`; nothing is created.
 *
 * @example
 * ```ts
 * import { dataDirProblem } from "./config.ts";
 * dataDirProblem("/etc/hostname/data"); // 'cannot be made: "/etc/hostname" is not a folder'
 * ```
 */
export function dataDirProblem(dataDir: string): string | null {
  try {
    const info = statOrNull(dataDir);
    if (info !== null) return info.isDirectory ? null : "exists and is not a folder";
    for (let parent = dirname(dataDir);; parent = dirname(parent)) {
      const up = statOrNull(parent);
      if (up !== null) {
        return up.isDirectory ? null : `cannot be made: ${JSON.stringify(parent)} is not a folder`;
      }
      if (dirname(parent) === parent) return "cannot be made: no existing parent folder";
    }
  } catch (e) {
    return `cannot be checked: ${(e as Error).message}`;
  }
}
