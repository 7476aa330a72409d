import assert from "node:assert/strict";
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import { type AccessEntry, formatAccessLine, formatConsoleRecord } from "./format.ts";

const T = Date.UTC(2026, 10, 22, 2, 51, 9, 456);

/** A record as LogTape builds it for `logger.<level>(rawMessage, properties)`. */
function record(
  rawMessage: string,
  properties: Record<string, unknown>,
  options: { category?: string[]; level?: LogRecord["level"] } = {},
): LogRecord {
  const message: unknown[] = [];
  let last = 0;
  for (const m of rawMessage.matchAll(/\{([^{}]+)\}/g)) {
    message.push(rawMessage.slice(last, m.index), m[1] === "*" ? properties : properties[m[1]!]);
    last = m.index! + m[0].length;
  }
  message.push(rawMessage.slice(last));
  return {
    category: options.category ?? ["burrow", "server", "agent#a1b2"],
    level: options.level ?? "info",
    timestamp: T,
    rawMessage,
    message,
    properties,
  };
}

Deno.test("formatConsoleRecord() writes time, level, prefix, message and the other properties", () => {
  const cases: [string, LogRecord, string][] = [
    [
      "example line",
      record("connected", { domain: "x" }),
      `2026-11-22T02:51:09Z INFO  server: agent#a1b2: connected {domain: "x"}\n`,
    ],
    [
      "interpolated properties are not repeated",
      record("stream {id} opened", { id: 5, kind: "http" }),
      `2026-11-22T02:51:09Z INFO  server: agent#a1b2: stream 5 opened {kind: "http"}\n`,
    ],
    [
      "strings inside the message are bare",
      record("domain {domain} claimed", { domain: "example.com" }),
      "2026-11-22T02:51:09Z INFO  server: agent#a1b2: domain example.com claimed\n",
    ],
    [
      "levels are padded to five",
      record("slow", {}, { level: "warning", category: ["burrow", "agent"] }),
      "2026-11-22T02:51:09Z WARN  agent: slow\n",
    ],
    [
      "error level",
      record("failed", {}, { level: "error", category: ["burrow", "server"] }),
      "2026-11-22T02:51:09Z ERROR server: failed\n",
    ],
    [
      "foreign categories keep their root",
      record("sink failed", {}, { level: "warning", category: ["logtape", "meta"] }),
      "2026-11-22T02:51:09Z WARN  logtape: meta: sink failed\n",
    ],
    [
      "errors render as name and message",
      record("closed", { error: new TypeError("boom") }),
      `2026-11-22T02:51:09Z INFO  server: agent#a1b2: closed {error: "TypeError: boom"}\n`,
    ],
    [
      "an interpolated error",
      record("closed: {error}", { error: new RangeError("bad") }),
      "2026-11-22T02:51:09Z INFO  server: agent#a1b2: closed: RangeError: bad\n",
    ],
    [
      "odd keys are quoted, nested values are JSON",
      record("hello", { "a-b": 1, list: [1, "2"], nil: null, big: 10n }),
      `2026-11-22T02:51:09Z INFO  server: agent#a1b2: hello {"a-b": 1, list: [1,"2"], nil: null, big: 10n}\n`,
    ],
    [
      "newlines cannot forge a line",
      record("path {path}", { path: "/a\nFAKE" }),
      "2026-11-22T02:51:09Z INFO  server: agent#a1b2: path /a\\nFAKE\n",
    ],
    [
      "{*} mentions every property",
      record("all {*}", { a: 1 }),
      `2026-11-22T02:51:09Z INFO  server: agent#a1b2: all {"a":1}\n`,
    ],
    [
      "properties alone",
      record("", { a: 1 }),
      "2026-11-22T02:51:09Z INFO  server: agent#a1b2: {a: 1}\n",
    ],
  ];
  for (const [name, input, want] of cases) {
    assert.equal(formatConsoleRecord(input), want, name);
  }
});

Deno.test("formatConsoleRecord() survives circular properties", () => {
  const loop: Record<string, unknown> = { name: "loop" };
  loop.self = loop;
  const line = formatConsoleRecord(record("x", { loop }));
  assert.match(line, /^2026-11-22T02:51:09Z INFO {2}server: agent#a1b2: x \{loop: .*Circular/);
  assert.equal(line.split("\n").length, 2);
});

Deno.test("formatAccessLine() writes every field in order", () => {
  const entry: AccessEntry = {
    time: new Date(T),
    domain: "example.com",
    client: "203.0.113.7",
    method: "GET",
    path: "/a?b=1",
    status: 404,
    bytesIn: 0,
    bytesOut: 9,
    durationMs: 3.14159,
    tid: "01JD0000000000000000000000",
    agent: null,
    reason: "no-agent",
  };
  const line = formatAccessLine(entry);
  assert.deepEqual(Object.keys(JSON.parse(line)), [
    "time",
    "domain",
    "client",
    "method",
    "path",
    "status",
    "bytesIn",
    "bytesOut",
    "durationMs",
    "tid",
    "agent",
    "reason",
  ]);
  assert.deepEqual(JSON.parse(line), {
    ...entry,
    time: "2026-11-22T02:51:09.456Z",
    durationMs: 3.1,
  });
  const { reason: _, ...served } = entry;
  assert.equal(JSON.parse(formatAccessLine({ ...served, agent: "a1b2" })).reason, null);
});

Deno.test("formatConsoleRecord() formats records LogTape builds", async () => {
  const lines: string[] = [];
  await configure({
    sinks: { capture: (r: LogRecord) => lines.push(formatConsoleRecord(r)) },
    loggers: [
      { category: ["burrow"], sinks: ["capture"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], lowestLevel: null },
    ],
  });
  try {
    const log = getLogger(["burrow", "server"]).getChild("agent#a1b2");
    log.info("connected", { domain: "x" });
    log.with({ stream: 5 }).warn("stream {stream} reset by {side}", { side: "peer", n: 2 });
    log.info`tagged ${42}`;
  } finally {
    await reset();
  }
  assert.deepEqual(lines.map((l) => l.slice(21)), [
    `INFO  server: agent#a1b2: connected {domain: "x"}\n`,
    "WARN  server: agent#a1b2: stream 5 reset by peer {n: 2}\n",
    "INFO  server: agent#a1b2: tagged 42\n",
  ]);
  assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO/);
});
