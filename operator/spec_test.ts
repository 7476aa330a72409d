import assert from "node:assert/strict";
import { describeForward, parseForwardSpec, parseListenSpec, SpecError } from "./spec.ts";

Deno.test("parseForwardSpec() reads [BIND:]PORT:HOST:PORT with IPv6 in brackets", () => {
  const cases: [string, [string, number, string, number]][] = [
    ["15432:127.0.0.1:5432", ["127.0.0.1", 15432, "127.0.0.1", 5432]],
    ["0.0.0.0:8080:web.lan:80", ["0.0.0.0", 8080, "web.lan", 80]],
    ["*:8080:web.lan:80", ["0.0.0.0", 8080, "web.lan", 80]],
    ["localhost:0:db:5432", ["127.0.0.1", 0, "db", 5432]],
    ["[::1]:2222:[fd00::5]:22", ["::1", 2222, "fd00::5", 22]],
    ["2222:[::1]:22", ["127.0.0.1", 2222, "::1", 22]],
    ["53:10.0.0.2:53", ["127.0.0.1", 53, "10.0.0.2", 53]],
  ];
  for (const [text, [bind, port, host, targetPort]] of cases) {
    assert.deepEqual(parseForwardSpec(text), { bind, port, host, targetPort, text }, text);
  }
});

Deno.test("parseForwardSpec() refuses malformed specs, quoting them", () => {
  for (
    const text of [
      "5432",
      "5432:db",
      "a:b:c:d:e",
      "15432:db:0",
      "15432:db:65536",
      "99999:db:1",
      "x:1:db:1",
      "::1:2222:db:22",
      "[::1:2222:db:22",
      "2222:fd00::5:22",
      "2222:[10.0.0.1]:22",
      "2222:bad_host!:22",
      "db.lan:1:db:1",
    ]
  ) {
    assert.throws(() => parseForwardSpec(text), (e: Error) => {
      assert.ok(e instanceof SpecError, text);
      assert.ok(e.message.includes(JSON.stringify(text)), e.message);
      return true;
    });
  }
});

Deno.test("parseListenSpec() reads [BIND:]PORT", () => {
  assert.deepEqual(parseListenSpec("1080"), { bind: "127.0.0.1", port: 1080 });
  assert.deepEqual(parseListenSpec("[::1]:1080"), { bind: "::1", port: 1080 });
  assert.deepEqual(parseListenSpec("0.0.0.0:0"), { bind: "0.0.0.0", port: 0 });
  for (const text of ["", "x", "1:2:3", "::1:1080", "70000"]) {
    assert.throws(() => parseListenSpec(text), SpecError, text);
  }
});

Deno.test("describeForward() writes the forward as lines show it", () => {
  assert.equal(
    describeForward("db1", { bind: "::1", port: 80, host: "fd00::5", targetPort: 8080 }),
    "[::1]:80 -> db1 [fd00::5]:8080",
  );
});
