import assert from "node:assert/strict";
import { ConfigError, formatKeyPath, JsoncDocument, loadJsonc, readConfigText } from "./jsonc.ts";

/** Asserts that `fn` throws a ConfigError with these properties. */
function assertConfigError(fn: () => unknown, expected: Partial<ConfigError>): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught}`);
  for (const [name, value] of Object.entries(expected)) {
    assert.equal(caught[name as keyof ConfigError], value, `${name} of ${caught.message}`);
  }
  return caught;
}

Deno.test("ConfigError message reads file:line:col: key: detail", () => {
  const e = new ConfigError('"10.0.0.300/8" is not a valid CIDR', {
    code: "invalid",
    file: "conf/server.jsonc",
    line: 12,
    column: 5,
    key: "clients.networks[2]",
  });
  assert.equal(
    e.message,
    'conf/server.jsonc:12:5: clients.networks[2]: "10.0.0.300/8" is not a valid CIDR',
  );
  assert.equal(e.name, "ConfigError");
  assert.equal(e.code, "invalid");
  assert.ok(e instanceof Error);
  const whole = new ConfigError("Cannot read file: No such file or directory", {
    code: "io",
    file: "x.jsonc",
  });
  assert.equal(whole.message, "x.jsonc: Cannot read file: No such file or directory");
  assert.equal(whole.line, 0);
  assert.equal(whole.key, "");
});

Deno.test("formatKeyPath() joins keys with dots and indexes with brackets", () => {
  assert.equal(formatKeyPath([]), "");
  assert.equal(formatKeyPath(["clients", "networks", 2]), "clients.networks[2]");
  assert.equal(formatKeyPath(["targets", 0, "target", 1, "url"]), "targets[0].target[1].url");
  assert.equal(formatKeyPath(["a-b", "c"]), '["a-b"].c');
  assert.equal(formatKeyPath([3]), "[3]");
});

Deno.test("JsoncDocument accepts // and /* */ comments and trailing commas, not #", () => {
  const doc = JsoncDocument.parse(
    "a.jsonc",
    '// head\n{\n  /* block */ "a": [1, 2,],\n  "b": { "c": "x", }, // tail\n}',
  );
  assert.equal(doc.root.type, "object");
  assert.equal(doc.nodeAt(["a", 1])?.value, 2);
  assert.equal(doc.nodeAt(["b", "c"])?.value, "x");
  assertConfigError(() => JsoncDocument.parse("h.jsonc", '{\n  # no\n  "a": 1\n}'), {
    code: "syntax",
    line: 2,
    column: 3,
  });
});

Deno.test("JsoncDocument reports syntax errors at 1-based line and column", () => {
  const cases: [string, number, number, RegExp][] = [
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, /comma expected/],
    ['{\n  "a": \n}', 3, 1, /value expected/],
    ['{ "a": 1, }\n}', 2, 1, /end of file expected/],
    ['{ "a": tru }', 1, 8, /(invalid symbol|value expected)/],
    ["", 1, 1, /value expected/],
    ['{\r\n  "a": 1\r\n  "b": 2\r\n}', 3, 3, /comma expected/],
    ['{ "a": 1 /* open', 1, 10, /unexpected end of comment/],
  ];
  for (const [text, line, column, message] of cases) {
    const e = assertConfigError(() => JsoncDocument.parse("s.jsonc", text), {
      code: "syntax",
      file: "s.jsonc",
      line,
      column,
    });
    assert.match(e.message, message, JSON.stringify(text));
    assert.match(e.message, new RegExp(`^s\\.jsonc:${line}:${column}: Syntax error: `));
  }
});

Deno.test("JsoncDocument.positionOf() finds values, or the nearest existing parent", () => {
  const text = '{\n  "clients": {\n    "networks": ["10.0.0.0/8", "bad"]\n  }\n}';
  const doc = JsoncDocument.parse("c.jsonc", text);
  assert.deepEqual(doc.positionOf(["clients", "networks", 1]), { line: 3, column: 32 });
  assert.deepEqual(doc.positionOf(["clients"]), { line: 2, column: 14 });
  assert.deepEqual(doc.positionOf(["clients", "realm"]), { line: 2, column: 14 });
  assert.deepEqual(doc.positionOf(["nope", "deeper"]), { line: 1, column: 1 });
  const e = doc.errorAt(["clients", "networks", 1], '"bad" is not a valid CIDR', "invalid");
  assert.equal(e.message, 'c.jsonc:3:32: clients.networks[1]: "bad" is not a valid CIDR');
});

Deno.test("JsoncDocument keeps offsets right after a byte-order mark", () => {
  const doc = JsoncDocument.parse("b.jsonc", '\uFEFF{ "a": 1 }');
  assert.deepEqual(doc.positionOf(["a"]), { line: 1, column: 9 });
});

Deno.test("loadJsonc() reads a file; a missing one is an io ConfigError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ok.jsonc`, '{ "mode": "server" }');
    const doc = await loadJsonc(`${dir}/ok.jsonc`);
    assert.equal(doc.file, `${dir}/ok.jsonc`);
    await assert.rejects(() => readConfigText(`${dir}/missing.jsonc`), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.code, "io");
      assert.equal(e.message, `${dir}/missing.jsonc: Cannot read file: No such file or directory`);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
