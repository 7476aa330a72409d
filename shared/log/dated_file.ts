/**
 * Date-named log files, as groom writes them: the file path holds strftime
 * fields (`logs/burrow-%Y%m%d.log`), filled from each record's local time,
 * so a new file starts when the name changes (each day, or each hour with
 * `%H`). Old files are kept: prune them with cron or logrotate.
 *
 * @module
 */

import { dirname } from "node:path";
import type { LogRecord, Sink } from "@logtape/logtape";

/** The strftime fields a dated path may hold, filled from local time. */
const FIELDS: Record<string, (d: Date) => string> = {
  Y: (d) => String(d.getFullYear()).padStart(4, "0"),
  y: (d) => String(d.getFullYear() % 100).padStart(2, "0"),
  m: (d) => String(d.getMonth() + 1).padStart(2, "0"),
  d: (d) => String(d.getDate()).padStart(2, "0"),
  H: (d) => String(d.getHours()).padStart(2, "0"),
  F: (d) => `${FIELDS.Y!(d)}-${FIELDS.m!(d)}-${FIELDS.d!(d)}`,
  "%": () => "%",
};

/** Fields, as written: `%Y`, `%m`, … */
export const DATED_FIELDS = Object.keys(FIELDS).map((k) => `%${k}`);

/**
 * Whether `path` names date-named files (holds a `%` field).
 *
 * @example
 * ```ts
 * import { isDatedPath } from "./dated_file.ts";
 * isDatedPath("/var/log/burrow-%Y%m%d.log"); // true
 * ```
 */
export function isDatedPath(path: string): boolean {
  return path.includes("%");
}

/**
 * The `%` fields of `path` that are not supported (empty when all are).
 *
 * @example
 * ```ts
 * import { unknownDatedFields } from "./dated_file.ts";
 * unknownDatedFields("burrow-%Y-%q.log"); // ["%q"]
 * ```
 */
export function unknownDatedFields(path: string): string[] {
  return [...path.matchAll(/%(.?)/g)].filter((m) => !(m[1]! in FIELDS)).map((m) => m[0]);
}

/**
 * Fills the `%` fields of `template` from `date`, in local time.
 *
 * @example
 * ```ts
 * import { formatDatedPath } from "./dated_file.ts";
 * formatDatedPath("logs/burrow-%Y%m%d.log", new Date(2026, 0, 2)); // "logs/burrow-20260102.log"
 * ```
 */
export function formatDatedPath(template: string, date: Date): string {
  return template.replace(/%(.)/g, (all, field: string) => FIELDS[field]?.(date) ?? all);
}

/** Options of {@link datedFileSink}. */
export interface DatedFileSinkOptions {
  /** Formats one record as a line (with its newline). */
  formatter: (record: LogRecord) => string;
  /** Lines are written at least this often (ms). Default 1000. */
  flushIntervalMs?: number;
  /** Lines buffered before a write (bytes, roughly). Default 8192. */
  bufferSize?: number;
}

/**
 * A sink appending to the file `template` names at each record's time,
 * creating missing folders. Lines are buffered and written at least every
 * `flushIntervalMs`; dispose it (`await using`, or through LogTape's reset)
 * to write the rest and close the file.
 *
 * @throws {Error} when the first file cannot be opened.
 * @example
 * ```ts
 * import { datedFileSink } from "./dated_file.ts";
 * const sink = datedFileSink("logs/system-%Y%m%d.log", { formatter: (r) => `${r.message}\n` });
 * ```
 */
export function datedFileSink(
  template: string,
  options: DatedFileSinkOptions,
): Sink & AsyncDisposable {
  const encoder = new TextEncoder();
  const bufferSize = options.bufferSize ?? 8192;
  const flushIntervalMs = options.flushIntervalMs ?? 1000;
  let file: Deno.FsFile | null = null;
  let openPath = "";
  let bufferPath = formatDatedPath(template, new Date());
  let buffer = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  let disposed = false;

  const open = (path: string) => {
    if (path === openPath && file !== null) return file;
    file?.close();
    file = null;
    Deno.mkdirSync(dirname(path), { recursive: true });
    file = Deno.openSync(path, { append: true, create: true });
    openPath = path;
    return file;
  };
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (buffer === "") return;
    const bytes = encoder.encode(buffer);
    buffer = "";
    try {
      const out = open(bufferPath);
      for (let off = 0; off < bytes.length;) off += out.writeSync(bytes.subarray(off));
    } catch {
      // A log line cannot be written anywhere useful: drop it rather than fail the caller.
    }
  };
  open(bufferPath);

  const sink = (record: LogRecord) => {
    if (disposed) return;
    const path = formatDatedPath(template, new Date(record.timestamp));
    if (path !== bufferPath) {
      flush();
      bufferPath = path;
    }
    buffer += options.formatter(record);
    if (buffer.length >= bufferSize) flush();
    else if (timer === undefined) timer = setTimeout(flush, flushIntervalMs);
  };
  return Object.assign(sink, {
    [Symbol.asyncDispose]: () => {
      if (disposed) return Promise.resolve();
      disposed = true;
      flush();
      file?.close();
      file = null;
      return Promise.resolve();
    },
  });
}
