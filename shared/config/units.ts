/**
 * Durations (`"15s"`, `"500ms"`, `"2m"`, `"1h30m"`) and sizes (`"64kB"`,
 * `"8MB"`, `"1GB"`, powers of 1024) as written in config files, and their
 * display form for error messages.
 *
 * @module
 */

/** Milliseconds per duration unit. */
const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Bytes per size unit (lower-cased; `k`, `kb` and `kib` all mean 1024). */
const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a duration into milliseconds: a string of one or more
 * number-and-unit pairs (`ms`, `s`, `m`, `h`: `"500ms"`, `"15s"`, `"1h30m"`,
 * `"1.5s"`), or a non-negative number of seconds. Rounds to whole ms.
 *
 * @throws {TypeError} on anything else.
 * @example
 * ```ts
 * import { parseDuration } from "./units.ts";
 * parseDuration("2m"); // 120000
 * parseDuration(1.5); // 1500
 * ```
 */
export function parseDuration(value: unknown): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new TypeError(`${value} is not a valid duration`);
    }
    return Math.round(value * 1000);
  }
  if (typeof value !== "string" || !/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(value)) {
    throw new TypeError(
      `${
        JSON.stringify(value)
      } is not a valid duration (expected e.g. "15s", "500ms", "2m", "1h" or seconds)`,
    );
  }
  let ms = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    ms += Number(amount) * (DURATION_UNITS[unit ?? ""] ?? 0);
  }
  return Math.round(ms);
}

/**
 * Parses a size into bytes: a number with an optional unit (`B`, `kB`/`K`/
 * `KiB`, `MB`/`M`/`MiB`, `GB`/`G`/`GiB`, any case, all powers of 1024, e.g.
 * `"64kB"`, `"1.5MB"`), or a non-negative whole number of bytes.
 *
 * @throws {TypeError} on anything else.
 * @example
 * ```ts
 * import { parseSize } from "./units.ts";
 * parseSize("8MB"); // 8388608
 * parseSize(1024); // 1024
 * ```
 */
export function parseSize(value: unknown): number {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`${value} is not a valid size`);
    }
    return value;
  }
  const match = typeof value === "string" ? /^(\d+(?:\.\d+)?) ?([A-Za-z]*)$/.exec(value) : null;
  const unit = SIZE_UNITS[(match?.[2] ?? "").toLowerCase()];
  if (match === null || unit === undefined) {
    throw new TypeError(
      `${JSON.stringify(value)} is not a valid size (expected e.g. "64kB", "8MB", "1GB" or bytes)`,
    );
  }
  return Math.floor(Number(match[1]) * unit);
}

/**
 * Formats milliseconds the short way config files write them: `"10s"`,
 * `"10m"`, `"1h"`, `"1500ms"`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./units.ts";
 * formatDuration(600000); // "10m"
 * ```
 */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * Formats bytes the short way config files write them: `"64kB"`, `"8MB"`,
 * `"1GB"`, `"1000B"`.
 *
 * @example
 * ```ts
 * import { formatSize } from "./units.ts";
 * formatSize(8 * 1024 * 1024); // "8MB"
 * ```
 */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [["GB", 1024 ** 3], ["MB", 1024 ** 2], ["kB", 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}B`;
}
