import assert from "node:assert/strict";
import { inTimeRanges, parseTimeRange, type TimeRange } from "./time_range.ts";

// 2019-10-01 is a Tuesday; 2020-01-04 a Saturday; 2024-01-01 a Monday.

/** [entries, instant (UTC), expected] */
const TABLE: [string[], string, boolean][] = [
  // groom's README examples
  [["2019-10-01-2019-10-31 tue-fri 08:00-19:00"], "2019-10-01T08:00:00Z", true],
  [["2019-10-01-2019-10-31 tue-fri 08:00-19:00"], "2019-10-01T07:59:59Z", false],
  [["2019-10-01-2019-10-31 tue-fri 08:00-19:00"], "2019-10-01T18:59:59Z", true],
  [["2019-10-01-2019-10-31 tue-fri 08:00-19:00"], "2019-10-01T19:00:00Z", false],
  [["2019-10-01-2019-10-31 tue-fri 08:00-19:00"], "2019-10-07T10:00:00Z", false], // Monday
  [["2019-10-01-2019-10-31 tue-fri 08:00-19:00"], "2019-10-05T10:00:00Z", false], // Saturday
  [["2019-10-01-2019-10-31 tue-fri 08:00-19:00"], "2019-10-31T10:00:00Z", true], // Thursday, last day
  [["2019-10-01-2019-10-31 tue-fri 08:00-19:00"], "2019-11-01T10:00:00Z", false], // Friday, after
  [["2019-10-01-2019-10-31 tue-fri 08:00-19:00"], "2019-09-27T10:00:00Z", false], // Friday, before
  // groom's second example as groom reads it: every weekend afternoon from 2020 on
  [["2020-01-01 sat- 13:00-17:00"], "2020-01-01T14:00:00Z", false], // a Wednesday
  [["2020-01-01 sat- 13:00-17:00"], "2020-01-04T14:00:00Z", true], // Saturday
  [["2020-01-01 sat- 13:00-17:00"], "2026-12-06T16:59:59Z", true], // a Sunday, years later
  [["2020-01-01 sat- 13:00-17:00"], "2026-12-06T17:00:00Z", false],
  [["2020-01-01 sat- 13:00-17:00"], "2026-12-07T14:00:00Z", false], // Monday
  [["2020-01-01 sat- 13:00-17:00"], "2019-12-28T14:00:00Z", false], // Saturday before
  [["2020-01-01- sat- 13:00-17:00"], "2020-01-04T14:00:00Z", true], // Saturday
  [["2020-01-01- sat- 13:00-17:00"], "2020-01-05T16:59:59Z", true], // Sunday
  [["2020-01-01- sat- 13:00-17:00"], "2020-01-06T14:00:00Z", false], // Monday
  [["2020-01-01- sat- 13:00-17:00"], "2019-12-28T14:00:00Z", false], // Saturday before
  // a lone date: from that day on; one day is written as a range
  [["2024-01-01"], "2024-01-01T00:00:00Z", true],
  [["2024-01-01"], "2099-01-02T00:00:00Z", true],
  [["2024-01-01"], "2023-12-31T23:59:59Z", false],
  [["2024-01-01-2024-01-01"], "2024-01-01T23:59:59.999Z", true],
  [["2024-01-01-2024-01-01"], "2024-01-02T00:00:00Z", false],
  [["2024-01-01-2024-01-01"], "2023-12-31T23:59:59Z", false],
  // open-ended dates
  [["2020-01-01-"], "2099-06-01T00:00:00Z", true],
  [["2020-01-01-"], "2019-12-31T23:59:59Z", false],
  [["-2020-01-31"], "2020-01-31T23:00:00Z", true],
  [["-2020-01-31"], "2020-02-01T00:00:00Z", false],
  // weekdays
  [["mon"], "2024-01-01T12:00:00Z", true],
  [["mon"], "2024-01-02T12:00:00Z", false],
  [["MON"], "2024-01-01T12:00:00Z", true],
  [["-wed"], "2024-01-03T12:00:00Z", true],
  [["-wed"], "2024-01-04T12:00:00Z", false],
  [["fri-mon"], "2024-01-05T12:00:00Z", true], // Friday
  [["fri-mon"], "2024-01-07T12:00:00Z", true], // Sunday
  [["fri-mon"], "2024-01-08T12:00:00Z", true], // Monday
  [["fri-mon"], "2024-01-09T12:00:00Z", false], // Tuesday
  [["sun-sun"], "2024-01-07T12:00:00Z", true],
  // times
  [["22:00-06:00"], "2024-01-01T23:30:00Z", true],
  [["22:00-06:00"], "2024-01-01T05:59:59Z", true],
  [["22:00-06:00"], "2024-01-01T06:00:00Z", false],
  [["22:00-06:00"], "2024-01-01T12:00:00Z", false],
  [["22:00-06:00"], "2024-01-01T22:00:00Z", true],
  [["08:00-"], "2024-01-01T23:59:59Z", true],
  [["08:00-"], "2024-01-01T07:59:59Z", false],
  [["-06:00"], "2024-01-01T00:00:00Z", true],
  [["-06:00"], "2024-01-01T06:00:00Z", false],
  [["12:00:30-12:00:45"], "2024-01-01T12:00:30Z", true],
  [["12:00:30-12:00:45"], "2024-01-01T12:00:45Z", false],
  [["00:00-24:00"], "2024-01-01T23:59:59Z", true],
  // a wrapped time range tests the instant's own weekday
  [["fri 22:00-06:00"], "2024-01-05T23:00:00Z", true], // Friday night
  [["fri 22:00-06:00"], "2024-01-06T03:00:00Z", false], // Saturday morning
  [["fri 22:00-06:00"], "2024-01-05T03:00:00Z", true], // Friday morning
  // parts in any order
  [["08:00-19:00 tue-fri 2019-10-01-2019-10-31"], "2019-10-02T09:00:00Z", true],
  // several entries: any may match
  [["mon 08:00-12:00", "tue 14:00-18:00"], "2024-01-02T15:00:00Z", true],
  [["mon 08:00-12:00", "tue 14:00-18:00"], "2024-01-02T10:00:00Z", false],
  // no entries: always
  [[], "2024-01-02T10:00:00Z", true],
];

Deno.test("inTimeRanges() matches the instants of groom's syntax (UTC)", () => {
  for (const [entries, instant, expected] of TABLE) {
    const ranges = entries.map(parseTimeRange);
    assert.equal(
      inTimeRanges(ranges, new Date(instant)),
      expected,
      `${entries.join(" | ")} @ ${instant}`,
    );
  }
});

Deno.test("parseTimeRange() builds the parts it was given", () => {
  const full: TimeRange = parseTimeRange("2019-10-01-2019-10-31 tue-fri 08:00-19:00");
  assert.deepEqual(full, {
    text: "2019-10-01-2019-10-31 tue-fri 08:00-19:00",
    dates: { from: 18170, to: 18200 },
    weekdays: 0b0011110,
    times: { from: 8 * 3600, to: 19 * 3600 },
  });
  assert.deepEqual(parseTimeRange("sat-").weekdays, 0b1100000);
  assert.deepEqual(parseTimeRange("fri-mon").weekdays, 0b1110001);
  assert.deepEqual(parseTimeRange("2020-01-01-").dates, { from: 18262, to: null });
  assert.equal(parseTimeRange("  mon  ").times, null);
});

Deno.test("parseTimeRange() refuses malformed entries with a TypeError naming them", () => {
  const bad: [string, RegExp][] = [
    ["", /is empty/],
    ["   ", /is empty/],
    ["2019-02-30", /2019-02-30 is not a date/],
    ["2019-13-01", /is not a date/],
    ["2019-10-31-2019-10-01", /ends before it starts/],
    ["25:00-26:00", /25:00 is not a time of day/],
    ["08:60-09:00", /is not a time of day/],
    ["24:00-08:00", /24:00 is not a time of day/],
    ["08:00-08:00", /is empty/],
    ["monday", /"monday" is not a date, weekday or time range/],
    ["xyz", /is not a date, weekday or time range/],
    ["mon-xyz", /is not a date, weekday or time range/],
    ["8:00-9:00", /is not a date, weekday or time range/],
    ["-", /is not a date, weekday or time range/],
    ["mon tue", /more than one weekdays part/],
    ["2020-01-01 2020-01-02", /more than one dates part/],
    ["08:00-09:00 10:00-11:00", /more than one times part/],
  ];
  for (const [text, message] of bad) {
    assert.throws(() => parseTimeRange(text), (e: unknown) => {
      assert.ok(e instanceof TypeError, String(e));
      assert.match(e.message, message, text);
      assert.ok(e.message.startsWith(`Invalid time range ${JSON.stringify(text)}`), e.message);
      return true;
    }, text);
  }
});
