import assert from "node:assert/strict";
import { formatDuration, formatSize, parseDuration, parseSize } from "./units.ts";

Deno.test("parseDuration() reads unit strings and seconds", () => {
  const cases: [unknown, number][] = [
    ["15s", 15_000],
    ["500ms", 500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["1m30s", 90_000],
    ["1.5s", 1500],
    ["0s", 0],
    [10, 10_000],
    [0.25, 250],
    [0, 0],
  ];
  for (const [input, ms] of cases) assert.equal(parseDuration(input), ms, String(input));
});

Deno.test("parseDuration() refuses other values with a TypeError", () => {
  for (
    const bad of [
      "15",
      "15 s",
      "s",
      "",
      "1d",
      "-1s",
      "1.s",
      "15S",
      -1,
      NaN,
      Infinity,
      true,
      null,
      [],
      {},
    ]
  ) {
    assert.throws(() => parseDuration(bad), TypeError, String(bad));
  }
});

Deno.test("parseSize() reads unit strings (powers of 1024) and bytes", () => {
  const cases: [unknown, number][] = [
    ["64kB", 65536],
    ["64KB", 65536],
    ["64k", 65536],
    ["64KiB", 65536],
    ["8MB", 8 * 1024 ** 2],
    ["8M", 8 * 1024 ** 2],
    ["1GB", 1024 ** 3],
    ["1.5MB", 1572864],
    ["100B", 100],
    ["100", 100],
    ["10 MB", 10 * 1024 ** 2],
    [4096, 4096],
    [0, 0],
  ];
  for (const [input, bytes] of cases) assert.equal(parseSize(input), bytes, String(input));
});

Deno.test("parseSize() refuses other values with a TypeError", () => {
  for (const bad of ["", "MB", "8TB", "8 M B", "-1kB", "1e3", 1.5, -1, true, null, ["1"]]) {
    assert.throws(() => parseSize(bad), TypeError, String(bad));
  }
});

Deno.test("formatDuration() and formatSize() use the largest whole unit", () => {
  assert.equal(formatDuration(600_000), "10m");
  assert.equal(formatDuration(1000), "1s");
  assert.equal(formatDuration(3_600_000), "1h");
  assert.equal(formatDuration(1500), "1500ms");
  assert.equal(formatDuration(90_000), "90s");
  assert.equal(formatSize(65536), "64kB");
  assert.equal(formatSize(8 * 1024 ** 2), "8MB");
  assert.equal(formatSize(1024 ** 3), "1GB");
  assert.equal(formatSize(1000), "1000B");
  for (const bytes of [1024, 65536, 1024 ** 3, 1536]) {
    assert.equal(parseSize(formatSize(bytes)), bytes);
  }
  for (const ms of [1, 1000, 90_000, 600_000]) assert.equal(parseDuration(formatDuration(ms)), ms);
});
