import assert from "node:assert/strict";
import { formatHostPort, ForwardError, parseForwardTarget } from "./target.ts";

Deno.test("parseForwardTarget() accepts names and IP literals, dropping IPv6 brackets", () => {
  assert.deepEqual(parseForwardTarget({ host: "db.lan", port: 5432 }), {
    host: "db.lan",
    port: 5432,
  });
  assert.deepEqual(parseForwardTarget({ host: "db.lan.", port: 1 }), { host: "db.lan.", port: 1 });
  assert.deepEqual(parseForwardTarget({ host: "::1", port: 22 }), { host: "::1", port: 22 });
  assert.deepEqual(parseForwardTarget({ host: "[::1]", port: 22 }), { host: "::1", port: 22 });
  assert.deepEqual(parseForwardTarget({ host: "10.0.0.1", port: 65535 }), {
    host: "10.0.0.1",
    port: 65535,
  });
});

Deno.test("parseForwardTarget() refuses bad hosts and ports with bad-params", () => {
  for (
    const params of [
      {},
      { host: 5, port: 22 },
      { host: "", port: 22 },
      { host: "a b", port: 22 },
      { host: "x/y", port: 22 },
      { host: "h", port: 0 },
      { host: "h", port: 65536 },
      { host: "h", port: 22.5 },
      { host: "h", port: "22" },
    ]
  ) {
    assert.throws(() => parseForwardTarget(params), (e: Error) => {
      assert.ok(e instanceof ForwardError);
      assert.equal(e.code, "bad-params");
      return true;
    });
  }
});

Deno.test("formatHostPort() brackets IPv6", () => {
  assert.equal(formatHostPort("::1", 22), "[::1]:22");
  assert.equal(formatHostPort("db.lan", 22), "db.lan:22");
});
