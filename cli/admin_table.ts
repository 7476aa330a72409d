/**
 * Tables for people, as the admin listings print them: columns aligned on
 * the widest cell, times in local time, byte counts and durations short.
 *
 * @module
 */

/** One column: its heading and how a row shows in it. */
export interface Column<T> {
  /** Heading, upper case by convention. */
  heading: string;
  /** The cell of `row`; `""` shows as `-`. */
  cell(row: T): string;
  /** Right-align (numbers). Default left. */
  right?: boolean;
}

/**
 * Renders `rows` under `columns`, two spaces between columns, no trailing
 * spaces; the last column is not padded (long reasons stay readable).
 *
 * @example
 * ```ts
 * import { renderTable } from "./admin_table.ts";
 * renderTable([{ heading: "NAME", cell: (r: string) => r }], ["db1", "web"]);
 * // "NAME\ndb1\nweb"
 * ```
 */
export function renderTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const cells = rows.map((row) => columns.map((c) => c.cell(row) || "-"));
  const widths = columns.map((c, i) =>
    Math.max(c.heading.length, ...cells.map((r) => [...r[i]!].length))
  );
  const line = (values: string[]) =>
    values.map((v, i) => {
      if (i === values.length - 1 && !columns[i]!.right) return v;
      const pad = " ".repeat(widths[i]! - [...v].length);
      return columns[i]!.right ? pad + v : v + pad;
    }).join("  ").trimEnd();
  return [line(columns.map((c) => c.heading)), ...cells.map(line)].join("\n");
}

/** Two digits. */
const two = (n: number) => String(n).padStart(2, "0");

/**
 * A time (ms since the epoch) in local time, `2026-12-05 21:03:04`; `""`
 * for null.
 *
 * @example
 * ```ts
 * import { formatTime } from "./admin_table.ts";
 * formatTime(null); // ""
 * ```
 */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * A byte count in binary units: `512 B`, `1.5 KiB`, `20.0 MiB`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./admin_table.ts";
 * formatBytes(1536); // "1.5 KiB"
 * ```
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A duration from `start` to `end` (ms), or to `now` while `end` is null:
 * `45s`, `12m05s`, `3h07m`, `2d04h`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./admin_table.ts";
 * formatDuration(0, 3_725_000, 0); // "1h02m"
 * ```
 */
export function formatDuration(start: number, end: number | null, now: number): string {
  const s = Math.max(0, Math.floor(((end ?? now) - start) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** Units of relative times: `90s`, `15m`, `2h`, `7d`. */
const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time as a person writes it on the command line, in ms since the epoch:
 * a relative one back from `now` (`90s`, `15m`, `2h`, `7d`), a local date
 * and time (`2026-12-05`, `2026-12-05 21:00`, `2026-12-05T21:00:30`), ISO
 * 8601 with a zone (`2026-12-05T20:00:00Z`), or milliseconds.
 *
 * @throws {RangeError} for anything else, naming `flag`.
 * @example
 * ```ts
 * import { parseTime } from "./admin_table.ts";
 * parseTime("2h", "--since", 10_000_000); // 2_800_000
 * ```
 */
export function parseTime(text: string, flag: string, now: number): number {
  const relative = /^(\d+)([smhd])$/.exec(text);
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]!]!;
  if (/^\d+$/.test(text)) return Number(text);
  const local = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text);
  if (local) {
    const [y, mo, d, h, mi, s] = local.slice(1).map((v) => Number(v ?? 0));
    const ms = new Date(y!, mo! - 1, d!, h!, mi!, s!).getTime();
    if (Number.isFinite(ms)) return ms;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  throw new RangeError(
    `${flag} ${JSON.stringify(text)} is not a time: 15m, 2h, 7d (ago), ` +
      "2026-12-05 21:00 (local), 2026-12-05T20:00:00Z, or milliseconds since the epoch",
  );
}
