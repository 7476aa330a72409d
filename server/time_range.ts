/**
 * Time ranges in groom's syntax, for `clients.ranges`: when clients may use a
 * domain. All in UTC. An entry has up to three space-separated parts, each
 * optional and in any order, and matches an instant when every part it has
 * matches:
 *
 * - a date or date range: `2019-10-01-2019-10-31` (both days included),
 *   `2020-01-01-` or `2020-01-01` (from that day on), `-2020-01-31` (until
 *   that day, included); one day is `2024-01-01-2024-01-01`. A lone date
 *   opens a range, as in groom, whose own example
 *   `2020-01-01 sat- 13:00-17:00` allows every Saturday and Sunday from
 *   13:00 to 17:00 (groom ignores a lone date; from that day on differs only
 *   before it);
 * - a weekday or weekday range: `mon`, `tue-fri`, `sat-` (sat..sun), `-wed`
 *   (mon..wed); a range may wrap: `fri-mon` is fri, sat, sun, mon;
 * - a time range `HH:MM[:SS]-HH:MM[:SS]`, start included, end excluded:
 *   `08:00-19:00`; it may wrap midnight: `22:00-06:00`; `08:00-` runs to
 *   midnight, `-06:00` from midnight; `24:00` may end a range.
 *
 * Each part tests the instant itself: `fri 22:00-06:00` matches Friday from
 * 00:00 to 06:00 and from 22:00 to midnight, not Saturday morning.
 *
 * @module
 */

/** Weekday names, Monday first (bit 0 of {@link TimeRange.weekdays}). */
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const DAY_MS = 86_400_000;
const DATE = String.raw`\d{4}-\d{2}-\d{2}`;
const TIME = String.raw`\d{2}:\d{2}(?::\d{2})?`;

/** One parsed time range. Absent parts (null) match every instant. */
export interface TimeRange {
  /** The entry as written. */
  readonly text: string;
  /**
   * Days since 1970-01-01 (UTC), both ends included; null ends are open.
   * Null when the entry has no date part.
   */
  readonly dates: { readonly from: number | null; readonly to: number | null } | null;
  /** Allowed weekdays as a bit set, bit 0 Monday … bit 6 Sunday; null for any day. */
  readonly weekdays: number | null;
  /**
   * Seconds since midnight, `from` included, `to` excluded; wraps midnight
   * when `from > to`. Null when the entry has no time part.
   */
  readonly times: { readonly from: number; readonly to: number } | null;
}

/** Parses `YYYY-MM-DD` into days since the epoch, refusing dates that do not exist. */
function parseDay(text: string, entry: string): number {
  const [year, month, day] = text.split("-").map(Number) as [number, number, number];
  const ms = Date.UTC(year, month - 1, day);
  const check = new Date(ms);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
    throw new TypeError(`Invalid time range ${JSON.stringify(entry)}: ${text} is not a date`);
  }
  return ms / DAY_MS;
}

/** Parses `HH:MM[:SS]` into seconds since midnight; `24:00` only when `end`. */
function parseClock(text: string, entry: string, end: boolean): number {
  const [h, m, s = 0] = text.split(":").map(Number) as [number, number, number?];
  const seconds = h * 3600 + m * 60 + s;
  const valid = m < 60 && s < 60 && (h < 24 || (end && seconds === 86_400));
  if (!valid) {
    throw new TypeError(
      `Invalid time range ${JSON.stringify(entry)}: ${text} is not a time of day`,
    );
  }
  return seconds;
}

/** Weekday bits from `first` to `last` inclusive, wrapping past Sunday. */
function weekdayBits(first: number, last: number): number {
  let bits = 0;
  for (let day = first;; day = (day + 1) % 7) {
    bits |= 1 << day;
    if (day === last) return bits;
  }
}

/** A part parser: returns the fields it sets, or null when the part is not its kind. */
type PartParser = (part: string, entry: string) => Partial<TimeRange> | null;

const PARSERS: Record<"dates" | "weekdays" | "times", PartParser> = {
  dates(part, entry) {
    const match = new RegExp(`^(${DATE})?(-)?(${DATE})?$`).exec(part);
    if (match === null || (match[1] === undefined && match[3] === undefined)) return null;
    const [, fromText, dash, toText] = match;
    if (dash === undefined && toText !== undefined) return null;
    const from = fromText === undefined ? null : parseDay(fromText, entry);
    // A lone date opens the range, as groom reads it: "2020-01-01" is "2020-01-01-".
    const to = toText === undefined ? null : parseDay(toText, entry);
    if (from !== null && to !== null && from > to) {
      throw new TypeError(
        `Invalid time range ${JSON.stringify(entry)}: ${part} ends before it starts`,
      );
    }
    return { dates: { from, to } };
  },
  weekdays(part) {
    const match = /^([a-z]{3})?(-)?([a-z]{3})?$/.exec(part.toLowerCase());
    if (match === null || (match[1] === undefined && match[3] === undefined)) return null;
    const [, fromName, dash, toName] = match;
    if (dash === undefined && toName !== undefined) return null;
    const day = (name: string | undefined, fallback: number): number =>
      name === undefined ? fallback : WEEKDAYS.indexOf(name as typeof WEEKDAYS[number]);
    const from = day(fromName, 0);
    const to = dash === undefined ? from : day(toName, 6);
    if (from < 0 || to < 0) return null;
    return { weekdays: weekdayBits(from, to) };
  },
  times(part, entry) {
    const match = new RegExp(`^(${TIME})?-(${TIME})?$`).exec(part);
    if (match === null || (match[1] === undefined && match[2] === undefined)) return null;
    const from = match[1] === undefined ? 0 : parseClock(match[1], entry, false);
    const to = match[2] === undefined ? 86_400 : parseClock(match[2], entry, true);
    if (from === to) {
      throw new TypeError(`Invalid time range ${JSON.stringify(entry)}: ${part} is empty`);
    }
    return { times: { from, to } };
  },
};

/** Parses one part with the first parser that recognises it. */
function parsePart(
  part: string,
  entry: string,
): { kind: keyof typeof PARSERS; fields: Partial<TimeRange> } {
  for (const kind of ["dates", "weekdays", "times"] as const) {
    const fields = PARSERS[kind](part, entry);
    if (fields !== null) return { kind, fields };
  }
  throw new TypeError(
    `Invalid time range ${JSON.stringify(entry)}: ${JSON.stringify(part)} is not a date, ` +
      `weekday or time range`,
  );
}

/**
 * Parses one time-range entry.
 *
 * @throws {TypeError} naming the entry and the part that is wrong.
 * @example
 * ```ts
 * import { inTimeRanges, parseTimeRange } from "./time_range.ts";
 * const office = parseTimeRange("2019-10-01-2019-10-31 tue-fri 08:00-19:00");
 * inTimeRanges([office], new Date("2019-10-02T09:00:00Z")); // true (a Wednesday)
 * ```
 */
export function parseTimeRange(text: string): TimeRange {
  const parts = text.trim().split(/\s+/).filter((p) => p !== "");
  if (parts.length === 0) {
    throw new TypeError(`Invalid time range ${JSON.stringify(text)}: it is empty`);
  }
  const range: { -readonly [K in keyof TimeRange]: TimeRange[K] } = {
    text,
    dates: null,
    weekdays: null,
    times: null,
  };
  for (const part of parts) {
    const parsed = parsePart(part, text);
    const kind = parsed.kind;
    if (range[kind] !== null) {
      throw new TypeError(`Invalid time range ${JSON.stringify(text)}: more than one ${kind} part`);
    }
    Object.assign(range, parsed.fields);
  }
  return range;
}

/** Whether one range matches `date`. */
function matches(range: TimeRange, date: Date): boolean {
  const ms = date.getTime();
  const day = Math.floor(ms / DAY_MS);
  if (range.dates !== null) {
    if (range.dates.from !== null && day < range.dates.from) return false;
    if (range.dates.to !== null && day > range.dates.to) return false;
  }
  if (range.weekdays !== null) {
    const weekday = (date.getUTCDay() + 6) % 7; // Monday = 0
    if ((range.weekdays & (1 << weekday)) === 0) return false;
  }
  if (range.times !== null) {
    const second = Math.floor((ms - day * DAY_MS) / 1000);
    const { from, to } = range.times;
    const inside = from < to ? second >= from && second < to : second >= from || second < to;
    if (!inside) return false;
  }
  return true;
}

/**
 * Whether `date` falls in any of `ranges`; an empty list always matches.
 *
 * @example
 * ```ts
 * import { inTimeRanges, parseTimeRange } from "./time_range.ts";
 * const nights = [parseTimeRange("22:00-06:00")];
 * inTimeRanges(nights, new Date("2024-01-01T23:30:00Z")); // true
 * inTimeRanges([], new Date()); // true
 * ```
 */
export function inTimeRanges(ranges: readonly TimeRange[], date: Date): boolean {
  return ranges.length === 0 || ranges.some((range) => matches(range, date));
}
