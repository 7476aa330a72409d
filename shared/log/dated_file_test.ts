import assert from "node:assert/strict";
import { join } from "node:path";
import type { LogRecord } from "@logtape/logtape";
import { datedFileSink, formatDatedPath, unknownDatedFields } from "./dated_file.ts";
import { setupLogging } from "./setup.ts";

/** A record at local time `date` whose message is `text`. */
function record(date: Date, text: string): LogRecord {
  return {
    category: ["burrow"],
    level: "info",
    message: [text],
    rawMessage: text,
    properties: {},
    timestamp: date.getTime(),
  };
}

Deno.test("formatDatedPath() fills strftime fields from local time", () => {
  const date = new Date(2026, 0, 2, 7, 5);
  assert.equal(formatDatedPath("/var/log/p1-%Y%m%d.log", date), "/var/log/p1-20260102.log");
  assert.equal(formatDatedPath("%F_%H.log", date), "2026-01-02_07.log");
  assert.equal(formatDatedPath("%y/%%%d", date), "26/%02");
  assert.deepEqual(unknownDatedFields("a-%Y-%q-%"), ["%q", "%"]);
});

Deno.test("datedFileSink() starts a new file when the date in the name changes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const template = join(dir, "logs", "system-%Y%m%d.log");
    const sink = datedFileSink(template, { formatter: (r) => `${r.message[0]}\n` });
    const before = new Date(2026, 4, 31, 23, 59, 59);
    const after = new Date(2026, 5, 1, 0, 0, 1);
    sink(record(before, "one"));
    sink(record(before, "two"));
    sink(record(after, "three"));
    await sink[Symbol.asyncDispose]();
    assert.equal(await Deno.readTextFile(join(dir, "logs", "system-20260531.log")), "one\ntwo\n");
    assert.equal(await Deno.readTextFile(join(dir, "logs", "system-20260601.log")), "three\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setupLogging() writes date-named system and access files, appending across runs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const system = join(dir, "public1-%Y%m%d.log");
    const access = join(dir, "public1-clients-%Y%m%d.log");
    const names = () => [new Date(), new Date(Date.now() + 1000)];
    for (const run of [1, 2]) {
      const logging = await setupLogging({
        level: "info",
        system: [{ type: "datedFile", path: system }],
        access: [{ type: "datedFile", path: access }],
        unavailable: false,
      }, { role: "server" });
      logging.system.info("run {run}", { run });
      logging.access({
        domain: "example.com",
        client: "203.0.113.7",
        method: "GET",
        path: `/${run}`,
        status: 200,
        bytesIn: 0,
        bytesOut: 1,
        durationMs: 1,
        tid: `t${run}`,
        agent: "a1",
      });
      await logging.close();
    }
    // The day cannot change between the writes and now by more than a second.
    const day = names().map((d) => formatDatedPath(system, d)).find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
    assert.ok(day !== undefined, "a system file named after today");
    const lines = (await Deno.readTextFile(day)).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.message), ["run 1", "run 2"]);
    const accessFile = day.replace("public1-", "public1-clients-");
    const entries = (await Deno.readTextFile(accessFile)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(entries.map((e) => e.path), ["/1", "/2"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
