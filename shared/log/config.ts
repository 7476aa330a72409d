/**
 * The `log` section shared by server and agent main configs:
 *
 * ```jsonc
 * "log": {
 *   "level": "info",
 *   "system": ["console", { "file": "logs/system.log", "maxSize": "10MB", "maxFiles": 5 }],
 *   "access": [{ "file": "logs/access.log" }],   // server only
 *   "unavailable": false                          // server only
 * }
 * ```
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { type Field, ObjectReader } from "../config/fields.ts";
import type { LogConfig, LogSink } from "./config_types.ts";

/** Levels of `log.level`, most verbose first. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** Default rotation size of a file sink: 10 MiB. */
export const DEFAULT_MAX_SIZE = 10 * 1024 * 1024;
/** Default number of rotated files kept: 5. */
export const DEFAULT_MAX_FILES = 5;

/** Options of {@link parseLogConfig}. */
export interface LogConfigOptions {
  /** Folder that relative file paths are resolved against (the config file's). */
  baseDir: string;
  /** Whether `access` and `unavailable` are allowed (server) or unknown keys (agent). */
  server: boolean;
}

/**
 * The logging used when a config has no `log` section: info and above to
 * the console, no access log.
 *
 * @example
 * ```ts
 * import { defaultLogConfig } from "./config.ts";
 * defaultLogConfig().system; // [{ type: "console" }]
 * ```
 */
export function defaultLogConfig(): LogConfig {
  return { level: "info", system: [{ type: "console" }], access: [], unavailable: false };
}

/** Reads one sink: `"console"` or `{ "file", "maxSize", "maxFiles" }`. */
function parseSink(field: Field, baseDir: string): LogSink {
  if (field.type === "string") {
    field.string({ pattern: /^console$/, hint: 'a sink ("console" or { "file": … })' });
    return { type: "console" };
  }
  if (field.type !== "object") throw field.typeError('"console" or { "file": … }');
  const r = ObjectReader.of(field);
  const file = r.string("file", { nonEmpty: true });
  const maxSize = r.size("maxSize", {
    default: DEFAULT_MAX_SIZE,
    min: 64 * 1024,
    max: 64 * 1024 ** 3,
  });
  const maxFiles = r.int("maxFiles", { default: DEFAULT_MAX_FILES, min: 1, max: 1000 });
  r.finish();
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  return { type: "file", path, maxSize, maxFiles };
}

/** Reads a list of sinks (a single sink is a list of one); `fallback` when absent. */
function parseSinks(r: ObjectReader, key: string, baseDir: string, fallback: LogSink[]): LogSink[] {
  const field = r.field(key);
  if (field === null) return fallback;
  const items = field.type === "array" ? field.array() : [field];
  return items.map((item) => parseSink(item, baseDir));
}

/**
 * Reads the `log` section (`r` reads it; an absent section gives
 * {@link defaultLogConfig}) and rejects unknown keys.
 *
 * @throws {ConfigError} at the first bad value.
 * @example
 * ```ts
 * import { ObjectReader } from "../config/fields.ts";
 * import { JsoncDocument } from "../config/jsonc.ts";
 * import { parseLogConfig } from "./config.ts";
 * const doc = JsoncDocument.parse("/etc/burrow/server.jsonc", '{ "log": { "level": "debug" } }');
 * const log = parseLogConfig(ObjectReader.root(doc).object("log"), {
 *   baseDir: "/etc/burrow",
 *   server: true,
 * });
 * // log.level === "debug"
 * ```
 */
export function parseLogConfig(r: ObjectReader, options: LogConfigOptions): LogConfig {
  const defaults = defaultLogConfig();
  const config: LogConfig = {
    level: r.oneOf("level", LOG_LEVELS, defaults.level),
    system: parseSinks(r, "system", options.baseDir, defaults.system),
    access: options.server ? parseSinks(r, "access", options.baseDir, defaults.access) : [],
    unavailable: options.server ? r.bool("unavailable", defaults.unavailable) : false,
  };
  r.finish();
  return config;
}
