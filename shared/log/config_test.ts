import assert from "node:assert/strict";
import { ObjectReader } from "../config/fields.ts";
import { ConfigError, JsoncDocument } from "../config/jsonc.ts";
import { defaultLogConfig, isIPAddress, parseLogConfig } from "./config.ts";
import type { LogConfig } from "./config_types.ts";

/** Parses the `log` section of `text` as a file in /etc/burrow. */
function parse(text: string, server = true): LogConfig {
  const root = ObjectReader.root(JsoncDocument.parse("/etc/burrow/s.jsonc", text));
  const log = parseLogConfig(root.object("log"), { baseDir: "/etc/burrow", server });
  root.finish();
  return log;
}

/** Asserts that parsing `text` fails with exactly `message`. */
function assertFails(text: string, message: string, server = true): void {
  assert.throws(() => parse(text, server), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("parseLogConfig() gives console logging when the section is absent", () => {
  assert.deepEqual(parse("{}"), defaultLogConfig());
  assert.deepEqual(parse('{ "log": {} }'), {
    level: "info",
    system: [{ type: "console" }],
    access: [],
    unavailable: false,
  });
});

Deno.test("parseLogConfig() reads levels, sinks and resolves file paths", () => {
  const log = parse(`{ "log": {
    "level": "debug",
    "system": ["console", { "file": "logs/system.log", "maxSize": "1MB", "maxFiles": 3 }],
    "access": [{ "file": "/var/log/burrow/access.log" }],
    "unavailable": true,
  } }`);
  assert.deepEqual(log, {
    level: "debug",
    system: [
      { type: "console" },
      { type: "file", path: "/etc/burrow/logs/system.log", maxSize: 1024 ** 2, maxFiles: 3 },
    ],
    access: [
      { type: "file", path: "/var/log/burrow/access.log", maxSize: 10 * 1024 ** 2, maxFiles: 5 },
    ],
    unavailable: true,
  });
});

Deno.test("parseLogConfig() accepts a single sink for a list of one", () => {
  assert.deepEqual(parse('{ "log": { "system": "console", "access": { "file": "a.log" } } }'), {
    level: "info",
    system: [{ type: "console" }],
    access: [{ type: "file", path: "/etc/burrow/a.log", maxSize: 10 * 1024 ** 2, maxFiles: 5 }],
    unavailable: false,
  });
  assert.deepEqual(parse('{ "log": { "system": [] } }').system, []);
});

Deno.test("parseLogConfig() rejects bad values at their position", () => {
  assertFails(
    '{ "log": { "level": "verbose" } }',
    '/etc/burrow/s.jsonc:1:21: log.level: "verbose" is not one of "debug", "info", "warning", "error"',
  );
  assertFails(
    '{ "log": { "system": ["stderr"] } }',
    '/etc/burrow/s.jsonc:1:23: log.system[0]: "stderr" is not a sink ("console", "syslog", { "file": … } or { "syslog": … })',
  );
  assertFails(
    '{ "log": { "system": [{ "file": "x-%Y%q.log" }] } }',
    '/etc/burrow/s.jsonc:1:33: log.system[0].file: "%q" is not a date field (%Y, %y, %m, %d, %H, %F, %%)',
  );
  assertFails(
    '{ "log": { "system": [{ "file": "x-%Y%m%d.log", "maxFiles": 3 }] } }',
    "/etc/burrow/s.jsonc:1:61: log.system[0].maxFiles: does not apply to date-named files (a path with % fields)",
  );
  assertFails(
    '{ "log": { "system": [{ "syslog": "log host" }] } }',
    '/etc/burrow/s.jsonc:1:35: log.system[0].syslog: "log host" is not a host or host:port',
  );
  assertFails(
    '{ "log": { "system": [{ "syslog": "h", "facility": "local9" }] } }',
    '/etc/burrow/s.jsonc:1:52: log.system[0].facility: "local9" is not one of "kernel", "user", "mail", "daemon", "security", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp", "logaudit", "logalert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"',
  );
  assertFails(
    '{ "log": { "system": [{ "path": "x" }] } }',
    "/etc/burrow/s.jsonc:1:23: log.system[0].file: is required",
  );
  assertFails(
    '{ "log": { "system": [{ "file": "x", "maxFile": 2 }] } }',
    '/etc/burrow/s.jsonc:1:38: log.system[0].maxFile: unknown key (did you mean "maxFiles"?)',
  );
  assertFails(
    '{ "log": { "access": [{ "file": "x", "maxSize": "1kB" }] } }',
    '/etc/burrow/s.jsonc:1:49: log.access[0].maxSize: "1kB" is out of range (64kB to 64GB)',
  );
  assertFails(
    '{ "log": { "system": [3] } }',
    '/etc/burrow/s.jsonc:1:23: log.system[0]: expected "console", "syslog", { "file": … } or { "syslog": … }, got 3',
  );
});

Deno.test("parseLogConfig() reads date-named files and syslog sinks (groom's file(path=…%Y%m%d…) and syslog())", () => {
  const log = parse(`{ "log": {
    "system": [
      { "file": "logs/public1-%Y%m%d.log" },
      "syslog",
      { "syslog": "10.0.0.5:1514", "protocol": "tcp", "facility": "local4", "appName": "public1" },
      { "syslog": "[::1]" },
    ],
  } }`);
  assert.deepEqual(log.system, [
    { type: "datedFile", path: "/etc/burrow/logs/public1-%Y%m%d.log" },
    {
      type: "syslog",
      hostname: "localhost",
      port: 514,
      protocol: "udp",
      facility: "daemon",
      appName: "burrow",
    },
    {
      type: "syslog",
      hostname: "10.0.0.5",
      port: 1514,
      protocol: "tcp",
      facility: "local4",
      appName: "public1",
    },
    {
      type: "syslog",
      hostname: "::1",
      port: 514,
      protocol: "udp",
      facility: "daemon",
      appName: "burrow",
    },
  ]);
});

Deno.test("parseLogConfig() refuses two sinks on one file, as setupLogging() would at start", () => {
  assertFails(
    '{ "log": { "system": [{ "file": "a.log" }], "access": [{ "file": "./a.log" }] } }',
    '/etc/burrow/s.jsonc:1:66: log.access[0].file: "/etc/burrow/a.log" is already written by log.system[0]: two sinks may not write one file',
  );
  assertFails(
    '{ "log": { "system": [{ "file": "/var/log/b-%Y.log" }, { "file": "/var/log/b-%Y.log" }] } }',
    '/etc/burrow/s.jsonc:1:66: log.system[1].file: "/var/log/b-%Y.log" is already written by log.system[0]: two sinks may not write one file',
  );
  // The same name in two folders is two files.
  assert.equal(
    parse('{ "log": { "system": [{ "file": "a.log" }, { "file": "x/a.log" }] } }').system.length,
    2,
  );
});

Deno.test("parseLogConfig() for an agent refuses access and unavailable", () => {
  assert.deepEqual(parse('{ "log": { "level": "error" } }', false).access, []);
  assertFails(
    '{ "log": { "access": ["console"] } }',
    "/etc/burrow/s.jsonc:1:12: log.access: unknown key",
    false,
  );
});

Deno.test("isIPAddress() accepts what node:net's isIP accepts, without loading node:net at start", async () => {
  const { isIP } = await import("node:net");
  const samples = [
    "127.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "256.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "01.2.3.4",
    "::1",
    "::",
    "fe80::1",
    "2001:db8::8a2e:370:7334",
    "::ffff:10.0.0.1",
    "1::2::3",
    "12345::",
    "g::1",
    "localhost",
    "log.example",
    "",
    ":",
    "1.2.3.4:514",
    "[::1]",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
  ];
  for (const text of samples) {
    assert.equal(isIPAddress(text), isIP(text) !== 0, text);
  }
});
