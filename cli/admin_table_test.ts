import assert from "node:assert/strict";
import { formatBytes, formatDuration, formatTime, parseTime, renderTable } from "./admin_table.ts";

Deno.test("renderTable aligns columns on the widest cell, right-aligns numbers, shows empty cells as -", () => {
  const rows = [{ n: "db1", c: 5, r: "connection lost" }, { n: "web-frontend", c: 120, r: "" }];
  const text = renderTable([
    { heading: "NAME", cell: (x: typeof rows[number]) => x.n },
    { heading: "COUNT", cell: (x) => String(x.c), right: true },
    { heading: "REASON", cell: (x) => x.r },
  ], rows);
  assert.equal(
    text,
    [
      "NAME          COUNT  REASON",
      "db1               5  connection lost",
      "web-frontend    120  -",
    ].join("\n"),
  );
});

Deno.test("formatBytes, formatDuration and formatTime are short and readable", () => {
  assert.deepEqual([0, 1023, 1536, 20 * 1024 ** 2, 3 * 1024 ** 4].map(formatBytes), [
    "0 B",
    "1023 B",
    "1.5 KiB",
    "20.0 MiB",
    "3.0 TiB",
  ]);
  assert.equal(formatDuration(0, 45_000, 0), "45s");
  assert.equal(formatDuration(0, 725_000, 0), "12m05s");
  assert.equal(formatDuration(0, 3_725_000, 0), "1h02m");
  assert.equal(formatDuration(0, null, 190_800_000), "2d05h");
  assert.equal(formatTime(null), "");
  assert.equal(formatTime(new Date(2026, 11, 5, 9, 3, 4).getTime()), "2026-12-05 09:03:04");
});

Deno.test("parseTime reads relative, local, ISO and epoch times, and names the flag otherwise", () => {
  const now = Date.UTC(2026, 11, 5, 12);
  assert.equal(parseTime("90s", "--since", now), now - 90_000);
  assert.equal(parseTime("2h", "--since", now), now - 7_200_000);
  assert.equal(parseTime("7d", "--since", now), now - 7 * 86_400_000);
  assert.equal(parseTime("2026-12-05", "--since", now), new Date(2026, 11, 5).getTime());
  assert.equal(
    parseTime("2026-12-05 21:30", "--until", now),
    new Date(2026, 11, 5, 21, 30).getTime(),
  );
  assert.equal(parseTime("2026-12-05T20:00:00Z", "--since", now), Date.UTC(2026, 11, 5, 20));
  assert.equal(parseTime("1764930000000", "--since", now), 1764930000000);
  for (const bad of ["yesterday", "2h ago", "12/05/2026", ""]) {
    assert.throws(() => parseTime(bad, "--since", now), /^RangeError: --since ".*" is not a time/);
  }
});
