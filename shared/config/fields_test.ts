import assert from "node:assert/strict";
import { ObjectReader, suggestKey } from "./fields.ts";
import { ConfigError, JsoncDocument } from "./jsonc.ts";

/** A root reader over `text`, parsed as file "t.jsonc". */
function reader(text: string): ObjectReader {
  return ObjectReader.root(JsoncDocument.parse("t.jsonc", text));
}

/** Asserts that `fn` throws a ConfigError whose message is exactly `message`; returns it. */
function assertError(fn: () => unknown, message: string, code?: string): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught}`);
  assert.equal(caught.message, message);
  if (code !== undefined) assert.equal(caught.code, code);
  return caught;
}

Deno.test("ObjectReader reads present values and fills defaults for absent or null ones", () => {
  const r = reader(`{
    "active": true,
    "concurrency": 5,
    "name": "x",
    "timeout": "2m",
    "size": "64kB",
    "list": ["a", "b"],
    "nets": ["10.0.0.0/8"],
    "nothing": null,
  }`);
  assert.equal(r.bool("active", false), true);
  assert.equal(r.bool("missing", true), true);
  assert.equal(r.int("concurrency", { min: 1, max: 10, default: 20 }), 5);
  assert.equal(r.int("other", { min: 1, max: 10, default: 7 }), 7);
  assert.equal(r.string("name"), "x");
  assert.equal(r.string("nothing", { default: "d" }), "d");
  assert.equal(r.optionalString("absent"), null);
  assert.equal(r.duration("timeout", { default: 1000 }), 120_000);
  assert.equal(r.duration("t2", { default: 1000 }), 1000);
  assert.equal(r.size("size", { default: 1 }), 65536);
  assert.deepEqual(r.stringArray("list"), ["a", "b"]);
  assert.deepEqual(r.stringArray("none"), []);
  assert.equal(r.cidrs("nets")?.contains("10.1.1.1"), true);
  assert.equal(r.cidrs("noNets"), null);
  assert.equal(r.object("sub").present, false);
  assert.equal(r.object("sub").int("x", { default: 3 }), 3);
  r.finish();
});

Deno.test("ObjectReader errors name file:line:col, key path and the value", () => {
  const text = `{
  "concurrency": 0,
  "active": "yes",
  "limits": { "bodySize": "2GB", "readTimeout": "0s", "writeTimeout": "soon" },
  "clients": { "networks": ["10.0.0.0/8", "192.168.0.0/16", "10.0.0.300/8"] },
  "agentPath": "no-slash",
  "level": "loud",
  "count": 1.5,
  "list": "a",
}`;
  const cases: [(r: ObjectReader) => unknown, string, string][] = [
    [
      (r) => r.int("concurrency", { min: 1, max: 10000, default: 20 }),
      "t.jsonc:2:18: concurrency: 0 is out of range (1 to 10000)",
      "invalid",
    ],
    [
      (r) => r.bool("active", false),
      't.jsonc:3:13: active: expected true or false, got "yes"',
      "type",
    ],
    [
      (r) => r.object("limits").size("bodySize", { min: 65536, max: 1024 ** 3, default: 1 }),
      't.jsonc:4:27: limits.bodySize: "2GB" is out of range (64kB to 1GB)',
      "invalid",
    ],
    [
      (r) => r.object("limits").duration("readTimeout", { min: 1000, max: 600_000, default: 1 }),
      't.jsonc:4:49: limits.readTimeout: "0s" is out of range (1s to 10m)',
      "invalid",
    ],
    [
      (r) => r.object("limits").duration("writeTimeout", { default: 1 }),
      't.jsonc:4:71: limits.writeTimeout: "soon" is not a valid duration (expected e.g. "15s", "500ms", "2m", "1h" or seconds)',
      "type",
    ],
    [
      (r) => r.object("clients").cidrs("networks"),
      't.jsonc:5:61: clients.networks[2]: "10.0.0.300/8" is not a valid CIDR',
      "invalid",
    ],
    [
      (r) => r.string("agentPath", { pattern: /^\//, hint: 'a path starting with "/"' }),
      't.jsonc:6:16: agentPath: "no-slash" is not a path starting with "/"',
      "invalid",
    ],
    [
      (r) => r.oneOf("level", ["debug", "info"], "info"),
      't.jsonc:7:12: level: "loud" is not one of "debug", "info"',
      "invalid",
    ],
    [
      (r) => r.int("count", { default: 1 }),
      "t.jsonc:8:12: count: expected a whole number, got 1.5",
      "type",
    ],
    [(r) => r.stringArray("list"), 't.jsonc:9:11: list: expected an array, got "a"', "type"],
    [(r) => r.string("mode"), "t.jsonc:1:1: mode: is required", "missing"],
    [
      (r) => r.object("clients").string("realm"),
      "t.jsonc:5:14: clients.realm: is required",
      "missing",
    ],
    [
      (r) => r.object("limits").object("deep").string("x"),
      "t.jsonc:4:13: limits.deep.x: is required",
      "missing",
    ],
    [(r) => r.object("level"), 't.jsonc:7:12: level: expected an object, got "loud"', "type"],
  ];
  for (const [read, message, code] of cases) {
    assertError(() => read(reader(text)), message, code);
  }
});

Deno.test("ObjectReader.string() with nonEmpty refuses an empty string", () => {
  assertError(
    () => reader('{ "s": "" }').string("s", { nonEmpty: true }),
    "t.jsonc:1:8: s: must not be empty",
  );
});

Deno.test("ObjectReader.finish() names unknown keys with a suggestion", () => {
  const cases: [string, string][] = [
    [
      '{ "bodySize": 1, "body_size": 2 }',
      't.jsonc:1:18: body_size: unknown key (did you mean "bodySize"?)',
    ],
    ['{ "concurency": 1 }', 't.jsonc:1:3: concurency: unknown key (did you mean "concurrency"?)'],
    ['{ "Active": true }', 't.jsonc:1:3: Active: unknown key (did you mean "active"?)'],
    ['{ "frobnicate": 1 }', "t.jsonc:1:3: frobnicate: unknown key"],
  ];
  for (const [text, message] of cases) {
    const r = reader(text);
    r.int("bodySize", { default: 0 });
    r.int("concurrency", { default: 0 });
    r.bool("active", false);
    assertError(() => r.finish(), message, "unknown-key");
  }
  const nested = reader('{ "clients": { "realm": "r", "banner": "b" } }');
  const clients = nested.object("clients");
  clients.string("realm");
  assertError(() => clients.finish(), "t.jsonc:1:30: clients.banner: unknown key", "unknown-key");
  nested.finish(); // the outer object only knows "clients"
});

Deno.test("ObjectReader refuses duplicate keys and a non-object root", () => {
  assertError(
    () => reader('{ "a": 1,\n  "a": 2 }'),
    "t.jsonc:2:3: a: duplicate key",
    "duplicate-key",
  );
  assertError(() => reader("[1, 2]"), "t.jsonc:1:1: expected an object, got an array", "type");
});

Deno.test("Field.array() gives positioned items for nested validation", () => {
  const r = reader('{ "listen": [ { "address": "a" }, { "address": 3 } ] }');
  const [first, second] = r.array("listen");
  assert.equal(first && ObjectReader.of(first).string("address"), "a");
  assertError(
    () => second && ObjectReader.of(second).string("address"),
    "t.jsonc:1:48: listen[1].address: expected a string, got 3",
    "type",
  );
  assert.equal(second?.error("bad").message, "t.jsonc:1:35: listen[1]: bad");
});

Deno.test("ObjectReader.error() points at the value, or at the object when absent", () => {
  const r = reader('{\n  "sub": {\n    "x": 1\n  }\n}');
  const sub = r.object("sub");
  assert.equal(sub.error("x", "too big").message, "t.jsonc:3:10: sub.x: too big");
  assert.equal(sub.error("y", "needed", "missing").message, "t.jsonc:2:10: sub.y: needed");
  assert.equal(r.object("none").error("z", "gone").message, "t.jsonc:1:1: none.z: gone");
});

Deno.test("suggestKey() matches case, separators and small typos only", () => {
  const known = ["bodySize", "headerSize", "readTimeout", "mode"];
  assert.equal(suggestKey("body_size", known), "bodySize");
  assert.equal(suggestKey("BODYSIZE", known), "bodySize");
  assert.equal(suggestKey("read-timeout", known), "readTimeout");
  assert.equal(suggestKey("readTimout", known), "readTimeout");
  assert.equal(suggestKey("mdoe", known), undefined);
  assert.equal(suggestKey("mod", known), "mode");
  assert.equal(suggestKey("headersSize", known), "headerSize");
  assert.equal(suggestKey("completely", known), undefined);
});
