/**
 * Process logging on LogTape: a system log (human-readable lines on the
 * console, JSON lines in files) and an access log (one JSON object per
 * request), each written to the sinks a {@link LogConfig} names.
 *
 * LogTape's configuration is global, so **one process has one logging
 * setup**: {@link setupLogging} replaces any previous one (closing its sinks),
 * and only the current setup's {@link Logging.close} resets LogTape.
 *
 * @module
 */

import {
  configure,
  getLogger,
  jsonLinesFormatter,
  type Logger,
  type LoggerConfig,
  type LogRecord,
  reset,
  type Sink,
} from "@logtape/logtape";
import type * as LogtapeFile from "@logtape/file";
import { dirname, resolve } from "node:path";
import type { LogConfig, LogSink } from "./config_types.ts";
import {
  type AccessEntry,
  formatAccessLine,
  formatConsoleRecord,
  formatRecordText,
} from "./format.ts";
import { datedFileSink } from "./dated_file.ts";

export { type AccessEntry, formatAccessLine, formatConsoleRecord } from "./format.ts";

/** Root category of every Burrow logger; system sinks attach here. */
const ROOT = "burrow";
/** Category of the access log, kept apart from the system sinks. */
const ACCESS_CATEGORY = [ROOT, "access"];
/** A file sink flushes pending lines at least this often (milliseconds). */
const FLUSH_INTERVAL_MS = 1000;

/** The loggers of one process, from {@link setupLogging}. */
export interface Logging {
  /** The system logger of this process, category `["burrow", role]`. */
  readonly system: Logger;
  /**
   * Writes one access log line. Does nothing when the access log has no
   * sinks or this setup is closed. Bound: may be passed on detached.
   */
  readonly access: (entry: AccessEntry) => void;
  /**
   * A system logger for one scope, prefixed by `names` below the role:
   * `child("agent#a1b2")` writes `server: agent#a1b2: ...`. Fork further with
   * `getChild()`. Bound, like `access`.
   */
  readonly child: (...names: [string, ...string[]]) => Logger;
  /** Flushes and closes every sink, then resets LogTape. Safe to call twice. */
  close(): Promise<void>;
  /** Same as {@link Logging.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * @logtape/file, loaded by the first setup that writes a file: it starts
 * Node's `fs` layer (about 5 MB), which a console-only process never needs.
 */
let logtapeFile: typeof LogtapeFile | null = null;

/** The setup currently installed in LogTape, if any. */
let current: LoggingSetup | null = null;

/**
 * Configures LogTape for this process from `config` and returns its loggers.
 *
 * System records at `config.level` and above go to `config.system`;
 * `access()` lines go to `config.access`. Console sinks write to standard
 * error (system: {@link formatConsoleRecord}; access: JSON lines). File sinks
 * write JSON lines, create missing folders, rotate when a file would pass
 * `maxSize` bytes and keep `maxFiles` old files (`path.1` is the newest);
 * date-named file sinks (`dated_file.ts`) switch files when the date in the
 * name changes. Syslog sinks (`syslog.ts`, loaded only when configured) send
 * the system line without time and level, or the access JSON line.
 * Lines reach a file within a second; call {@link Logging.close} before
 * exiting so none are lost.
 *
 * One process has one logging setup: calling this again replaces the
 * previous setup, whose sinks are closed and whose `close()` then does
 * nothing.
 *
 * @throws {Error} when a log file or its folder cannot be created.
 * @throws {TypeError} when two sinks write the same file.
 * @example
 * ```ts
 * const logging = await setupLogging(config.log, { role: "server" });
 * const log = logging.child("agent#a1b2");
 * log.info("connected", { domain: "example.com" });
 * await logging.close();
 * ```
 */
export async function setupLogging(
  config: LogConfig,
  options: { role: "server" | "agent" | "demo" },
): Promise<Logging> {
  const sinks: Record<string, Sink> = {};
  if ([...config.system, ...config.access].some((s) => s.type === "file")) {
    logtapeFile ??= await import("@logtape/file");
  }
  try {
    const systemIds = await addSinks(sinks, config.system, {
      prefix: "system",
      console: formatConsoleRecord,
      file: jsonLinesFormatter,
      syslog: formatRecordText,
    });
    const accessIds = await addSinks(sinks, config.access, {
      prefix: "access",
      console: formatAccessRecord,
      file: formatAccessRecord,
      syslog: formatAccessRecord,
    });
    const loggers: LoggerConfig<string, string>[] = [
      { category: [ROOT], sinks: systemIds, lowestLevel: config.level },
      { category: ["logtape", "meta"], sinks: systemIds, lowestLevel: "warning" },
    ];
    if (accessIds.length > 0) {
      loggers.push({ category: ACCESS_CATEGORY, sinks: accessIds, parentSinks: "override" });
    }
    // From here on the previous setup is gone: configure() disposes its sinks.
    current?.markReplaced();
    current = null;
    await configure({ sinks, loggers, reset: true });
    current = new LoggingSetup(options.role, accessIds.length > 0);
    return current;
  } catch (err) {
    // Disposing twice is harmless; LogTape may already have disposed some on failure.
    await disposeAll(Object.values(sinks));
    throw err;
  }
}

class LoggingSetup implements Logging {
  readonly system: Logger;
  readonly #access: Logger | null;
  #closed = false;

  constructor(role: string, access: boolean) {
    this.system = getLogger([ROOT, role]);
    this.#access = access ? getLogger(ACCESS_CATEGORY) : null;
  }

  // Arrow properties, so `logging.access` can be passed around detached.
  readonly access = (entry: AccessEntry): void => {
    if (this.#closed || this.#access === null) return;
    this.#access.info("access", { line: formatAccessLine(entry) });
  };

  readonly child = (...names: [string, ...string[]]): Logger => this.system.getChild(names);

  /** Called when a newer setup takes over: its `configure()` disposes our sinks. */
  markReplaced(): void {
    this.#closed = true;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (current === this) {
      current = null;
      await reset();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The access sinks' formatter: the line `access()` already rendered. */
function formatAccessRecord(record: LogRecord): string {
  return `${record.properties.line}\n`;
}

/** The formatters of one log's sinks. */
interface SinkFormatters {
  /** Sink id prefix. */
  prefix: string;
  /** Console lines. */
  console: (record: LogRecord) => string;
  /** File lines (size-rotated and date-named). */
  file: (record: LogRecord) => string;
  /** Syslog message text. */
  syslog: (record: LogRecord) => string;
}

/**
 * Creates one LogTape sink per entry of `list` under ids `prefix0`,
 * `prefix1`, ... and returns the ids. Sinks made before a failure stay in `sinks`.
 */
async function addSinks(
  sinks: Record<string, Sink>,
  list: LogSink[],
  options: SinkFormatters,
): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, spec] of list.entries()) {
    const id = `${options.prefix}${i}`;
    if (spec.type === "file" || spec.type === "datedFile") {
      const path = resolve(spec.path);
      if (Object.values(sinks).some((s) => filePathOf(s) === path)) {
        throw new TypeError(`Log file "${spec.path}" is written by two sinks`);
      }
    }
    sinks[id] = await makeSink(spec, options);
    ids.push(id);
  }
  return ids;
}

/** One sink; the syslog library is loaded only when a syslog sink is configured. */
async function makeSink(spec: LogSink, formatters: SinkFormatters): Promise<Sink> {
  switch (spec.type) {
    case "console":
      return stderrSink(formatters.console);
    case "file":
      return fileSink(spec, formatters.file);
    case "datedFile":
      return datedSink(spec.path, formatters.file);
    case "syslog": {
      const { syslogSink } = await import("./syslog.ts");
      return syslogSink(spec, formatters.syslog);
    }
  }
}

/** A date-named file sink, tagged with its template for the two-sinks check. */
function datedSink(template: string, formatter: (record: LogRecord) => string): Sink {
  try {
    const sink = datedFileSink(template, { formatter, flushIntervalMs: FLUSH_INTERVAL_MS });
    return Object.assign(sink, { [FILE_PATH]: resolve(template) });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot open log file "${template}": ${message}`, { cause: err });
  }
}

const FILE_PATH = Symbol("burrow.logFilePath");

function filePathOf(sink: Sink): string | undefined {
  return (sink as Sink & { [FILE_PATH]?: string })[FILE_PATH];
}

/** A rotating JSON-lines file sink; creates the file's folder first. */
function fileSink(
  spec: Extract<LogSink, { type: "file" }>,
  formatter: (record: LogRecord) => string,
): Sink & AsyncDisposable {
  try {
    Deno.mkdirSync(dirname(spec.path), { recursive: true });
    // The overloads list the blocking signature first, so TypeScript picks it.
    const sink = logtapeFile!.getRotatingFileSink(spec.path, {
      formatter,
      maxSize: spec.maxSize,
      maxFiles: spec.maxFiles,
      // Flush in small batches so a file does not outgrow maxSize by much.
      bufferSize: Math.min(8192, Math.floor(spec.maxSize / 8)),
      flushInterval: FLUSH_INTERVAL_MS,
      nonBlocking: true,
    }) as unknown as Sink & AsyncDisposable;
    return Object.assign(sink, { [FILE_PATH]: resolve(spec.path) });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`Cannot open log file "${spec.path}": ${message}`, { cause: err });
  }
}

/** A sink that writes each formatted record to standard error, synchronously. */
function stderrSink(formatter: (record: LogRecord) => string): Sink {
  const encoder = new TextEncoder();
  return (record) => {
    const bytes = encoder.encode(formatter(record));
    for (let off = 0; off < bytes.length;) {
      off += Deno.stderr.writeSync(bytes.subarray(off));
    }
  };
}

async function disposeAll(sinks: Sink[]): Promise<void> {
  for (const sink of sinks) {
    if (Symbol.asyncDispose in sink) {
      await (sink as Sink & AsyncDisposable)[Symbol.asyncDispose]();
    }
  }
}
