/**
 * Pure formatters of Burrow's logs: the console line of a system record and
 * the JSON line of an access log entry.
 *
 * @module
 */

import type { LogLevel, LogRecord } from "@logtape/logtape";

/** One request, as written to the access log. */
export interface AccessEntry {
  /** When the request arrived (a Date or an ISO string). Default: when the entry is written. */
  time?: Date | string;
  /** Domain the request was for (its Host, without port). */
  domain: string;
  /** IP address of the client (the effective one, behind trusted proxies). */
  client: string;
  /** HTTP method. */
  method: string;
  /** Path and query of the request. */
  path: string;
  /** Status sent to the client. */
  status: number;
  /** Bytes of request body received from the client. */
  bytesIn: number;
  /** Bytes of response body sent to the client. */
  bytesOut: number;
  /** Time from request to the end of the response, in milliseconds. */
  durationMs: number;
  /** Transaction id, also sent to the agent. */
  tid: string;
  /** Id of the agent that served the request, or null when none did. */
  agent: string | null;
  /**
   * Why the request was refused, when it was: the real reason behind a
   * stealth status (say `no-agent` behind a 404). Written as null otherwise.
   */
  reason?: string | null;
}

/**
 * Renders an access log entry as one JSON object, fields in a fixed order,
 * without the trailing newline. `durationMs` is rounded to 0.1 ms.
 *
 * @example
 * ```ts
 * formatAccessLine({ domain: "example.com", client: "203.0.113.7", method: "GET", path: "/",
 *   status: 200, bytesIn: 0, bytesOut: 512, durationMs: 3.14159, tid: "01JD...", agent: "a1b2" });
 * // {"time":"2026-11-22T02:51:09.123Z","domain":"example.com",...,"reason":null}
 * ```
 */
export function formatAccessLine(entry: AccessEntry): string {
  return JSON.stringify({
    time: typeof entry.time === "string" ? entry.time : (entry.time ?? new Date()).toISOString(),
    domain: entry.domain,
    client: entry.client,
    method: entry.method,
    path: entry.path,
    status: entry.status,
    bytesIn: entry.bytesIn,
    bytesOut: entry.bytesOut,
    durationMs: Math.round(entry.durationMs * 10) / 10,
    tid: entry.tid,
    agent: entry.agent,
    reason: entry.reason ?? null,
  });
}

const LEVEL_LABELS: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO ",
  warning: "WARN ",
  error: "ERROR",
  fatal: "FATAL",
};

/**
 * Formats a system log record as one human-readable console line, ending in
 * a newline: UTC time to the second, level, the category below `burrow` as a
 * prefix, the rendered message, then the properties the message does not
 * mention. Control characters are escaped so a record stays on one line.
 *
 * @example
 * ```ts
 * formatConsoleRecord(record);
 * // 2026-11-22T02:51:09Z INFO  server: agent#a1b2: connected {domain: "x"}\n
 * ```
 */
export function formatConsoleRecord(record: LogRecord): string {
  const time = new Date(record.timestamp).toISOString().replace(/\.\d+Z$/, "Z");
  return `${time} ${LEVEL_LABELS[record.level]} ${formatRecordText(record)}\n`;
}

/**
 * The text of a system log record without time, level or newline: the
 * category below `burrow` as a prefix, the rendered message, then the
 * properties the message does not mention (what a syslog message carries).
 *
 * @example
 * ```ts
 * formatRecordText(record); // server: agent#a1b2: connected {domain: "x"}
 * ```
 */
export function formatRecordText(record: LogRecord): string {
  const category = record.category[0] === "burrow" ? record.category.slice(1) : record.category;
  const prefix = category.map((c) => `${escapeControls(c)}: `).join("");
  let message = "";
  record.message.forEach((part, i) => {
    message += i % 2 === 0 ? escapeControls(String(part)) : renderInline(part);
  });
  const mentioned = mentionedKeys(record.rawMessage);
  const rest = mentioned === "all"
    ? []
    : Object.entries(record.properties).filter(([k]) => !mentioned.has(k));
  const props = rest.length === 0
    ? ""
    : `{${rest.map(([k, v]) => `${renderKey(k)}: ${renderValue(v)}`).join(", ")}}`;
  const text = message !== "" && props !== "" ? `${message} ${props}` : message + props;
  return `${prefix}${text}`;
}

/** Property names a message template interpolates, or "all" for `{*}`. */
function mentionedKeys(raw: string | TemplateStringsArray): Set<string> | "all" {
  const keys = new Set<string>();
  // A tagged-template message interpolates values, not properties.
  if (typeof raw !== "string") return keys;
  for (const m of raw.replaceAll("{{", "").matchAll(/\{([^{}]*)\}/g)) {
    const name = (m[1] ?? "").trim();
    if (name === "*") return "all";
    keys.add(name.split(/[.[?]/, 1)[0] ?? name);
  }
  return keys;
}

/** A value inside the message: strings bare (escaped), errors as `Name: message`. */
function renderInline(value: unknown): string {
  if (typeof value === "string") return escapeControls(value);
  if (value instanceof Error) return escapeControls(`${value.name}: ${value.message}`);
  return renderValue(value);
}

/** A property value: JSON where it can be, `Deno.inspect` on one line otherwise. */
function renderValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return `[function ${value.name || "anonymous"}]`;
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`);
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // Circular or holds a bigint: fall through.
  }
  return escapeControls(
    Deno.inspect(value, { colors: false, compact: true, breakLength: Infinity, depth: 4 }),
  );
}

function renderKey(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
}

function escapeControls(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}
