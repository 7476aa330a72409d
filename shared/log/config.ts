/**
 * The `log` section shared by server and agent main configs:
 *
 * ```jsonc
 * "log": {
 *   "level": "info",
 *   "system": ["console", { "file": "logs/system.log", "maxSize": "10MB", "maxFiles": 5 },
 *              { "file": "logs/system-%Y%m%d.log" }, { "syslog": "127.0.0.1:514" }],
 *   "access": [{ "file": "logs/access.log" }],   // server only
 *   "unavailable": false                          // server only
 * }
 * ```
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { type Field, ObjectReader } from "../config/fields.ts";
import { formatKeyPath } from "../config/jsonc.ts";
import { isHostname } from "../net/address.ts";
import {
  type LogConfig,
  type LogSink,
  SYSLOG_FACILITIES,
  type SyslogTarget,
} from "./config_types.ts";
import { DATED_FIELDS, isDatedPath, unknownDatedFields } from "./dated_file.ts";

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

/** What a sink may be, for errors. */
const SINK_HINT = '"console", "syslog", { "file": … } or { "syslog": … }';

/** Reads one sink: `"console"`, `"syslog"`, `{ "file", … }` or `{ "syslog", … }`. */
function parseSink(field: Field, baseDir: string): LogSink {
  if (field.type === "string") {
    const name = field.string({ pattern: /^(console|syslog)$/, hint: `a sink (${SINK_HINT})` });
    return name === "console" ? { type: "console" } : { type: "syslog", ...DEFAULT_SYSLOG };
  }
  if (field.type !== "object") throw field.typeError(SINK_HINT);
  const r = ObjectReader.of(field);
  if (r.has("syslog")) return parseSyslogSink(r);
  const fileField = r.required("file");
  const file = fileField.string({ nonEmpty: true });
  const path = isAbsolute(file) ? file : resolve(baseDir, file);
  if (isDatedPath(file)) {
    const unknown = unknownDatedFields(file);
    if (unknown.length > 0) {
      throw fileField.error(
        `${JSON.stringify(unknown[0])} is not a date field (${DATED_FIELDS.join(", ")})`,
      );
    }
    for (const key of ["maxSize", "maxFiles"]) {
      if (r.has(key)) {
        throw r.error(key, "does not apply to date-named files (a path with % fields)");
      }
    }
    r.finish();
    return { type: "datedFile", path };
  }
  const maxSize = r.size("maxSize", {
    default: DEFAULT_MAX_SIZE,
    min: 64 * 1024,
    max: 64 * 1024 ** 3,
  });
  const maxFiles = r.int("maxFiles", { default: DEFAULT_MAX_FILES, min: 1, max: 1000 });
  r.finish();
  return { type: "file", path, maxSize, maxFiles };
}

/** Syslog defaults: UDP to localhost:514, facility daemon (groom's), app name "burrow". */
export const DEFAULT_SYSLOG: SyslogTarget = {
  hostname: "localhost",
  port: 514,
  protocol: "udp",
  facility: "daemon",
  appName: "burrow",
};

/**
 * Whether `text` is an IPv4 address (dotted decimal) or an IPv6 address
 * (without brackets). Not `node:net`'s `isIP`: importing `node:net` loads
 * Deno's Node stream and socket layer, about 3 MB RSS for the life of a role
 * that has no syslog sink.
 */
export function isIPAddress(text: string): boolean {
  if (IPV4.test(text)) return true;
  if (!text.includes(":") || !/^[0-9a-fA-F:.]+$/.test(text)) return false;
  return URL.canParse(`http://[${text}]/`);
}
/** Dotted decimal, each number 0-255 without leading zeros (as `node:net` reads it). */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Reads `{ "syslog": "host[:port]", "protocol", "facility", "appName" }`. */
function parseSyslogSink(r: ObjectReader): LogSink {
  const addressField = r.required("syslog");
  const address = addressField.string({ nonEmpty: true });
  const { hostname, port } = /:\d+$/.test(address)
    ? addressField.hostPort()
    : { hostname: address, port: DEFAULT_SYSLOG.port };
  if (!isHostname(hostname) && !isIPAddress(hostname.replace(/^\[(.*)\]$/, "$1"))) {
    throw addressField.error(`${JSON.stringify(address)} is not a host or host:port`);
  }
  const sink: LogSink = {
    type: "syslog",
    hostname: hostname.replace(/^\[(.*)\]$/, "$1"),
    port,
    protocol: r.oneOf("protocol", ["udp", "tcp"] as const, DEFAULT_SYSLOG.protocol),
    facility: r.oneOf("facility", SYSLOG_FACILITIES, DEFAULT_SYSLOG.facility),
    appName: r.string("appName", {
      default: DEFAULT_SYSLOG.appName,
      pattern: /^[!-~]{1,48}$/,
      hint: "1 to 48 printable ASCII characters without spaces (RFC 5424 APP-NAME)",
    }),
  };
  r.finish();
  return sink;
}

/**
 * Reads a list of sinks (a single sink is a list of one); `fallback` when
 * absent. `files` maps each file already written by a sink to that sink's
 * key path: a second sink on one file is refused here, as `burrow check`
 * must, rather than when the logs are set up at start.
 *
 * @throws {ConfigError} at a sink's `file` when another sink writes that file.
 */
function parseSinks(
  r: ObjectReader,
  key: string,
  options: { baseDir: string; files: Map<string, string> },
  fallback: LogSink[],
): LogSink[] {
  const field = r.field(key);
  if (field === null) return fallback;
  const items = field.type === "array" ? field.array() : [field];
  return items.map((item) => {
    const sink = parseSink(item, options.baseDir);
    if (sink.type !== "file" && sink.type !== "datedFile") return sink;
    const other = options.files.get(sink.path);
    const here = formatKeyPath(item.path);
    if (other !== undefined) {
      throw ObjectReader.of(item).error(
        "file",
        `${
          JSON.stringify(sink.path)
        } is already written by ${other}: two sinks may not write one file`,
      );
    }
    options.files.set(sink.path, here);
    return sink;
  });
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
  const sinks = { baseDir: options.baseDir, files: new Map<string, string>() };
  const config: LogConfig = {
    level: r.oneOf("level", LOG_LEVELS, defaults.level),
    system: parseSinks(r, "system", sinks, defaults.system),
    access: options.server ? parseSinks(r, "access", sinks, defaults.access) : [],
    unavailable: options.server ? r.bool("unavailable", defaults.unavailable) : false,
  };
  r.finish();
  return config;
}
