import assert from "node:assert/strict";
import { matchesAgent, parseAgentSelector } from "./selector.ts";

Deno.test("agent selectors match names, name globs, group globs and *", () => {
  // selector, agent name, agent groups, expected
  const cases: [string, string, string[], boolean][] = [
    ["db1", "db1", [], true],
    ["DB1", "db1", [], true],
    ["db1", "db10", [], false],
    ["db", "db1", [], false],
    ["db?", "db1", [], true],
    ["db?", "db12", [], false],
    ["web-*", "web-", [], true],
    ["web-*", "web-eu.2", [], true],
    ["web-*", "webx", [], false],
    ["*.customer-a", "db1.customer-a", [], true],
    ["*.customer-a", "db1.customer-ab", [], false],
    ["db.1", "dbx1", [], false],
    ["*", "anything", [], true],
    ["group:customer-*", "db1", ["customer-acme"], true],
    ["group:customer-*", "db1", ["linux", "customer-b"], true],
    ["group:customer-*", "db1", ["linux"], false],
    ["group:customer-*", "customer-db", [], false],
    ["group:linux", "db1", ["linux"], true],
    ["group:*", "db1", [], false],
    ["group:*", "db1", ["x"], true],
  ];
  for (const [selector, name, groups, expected] of cases) {
    assert.equal(
      matchesAgent([parseAgentSelector(selector)], name, groups),
      expected,
      `${selector} vs ${name} [${groups}]`,
    );
  }
});

Deno.test("matchesAgent() is true when any selector matches, false for none", () => {
  const selectors = ["db1", "group:ops"].map(parseAgentSelector);
  assert.equal(matchesAgent(selectors, "db1", []), true);
  assert.equal(matchesAgent(selectors, "db2", ["ops"]), true);
  assert.equal(matchesAgent(selectors, "db2", []), false);
  assert.equal(matchesAgent([], "db1", ["ops"]), false);
});

Deno.test("parseAgentSelector() refuses what is not a name, glob or group glob", () => {
  for (const text of ["", "group:", "db 1", "db/1", "[db]", "db+1", "group:a b", "a".repeat(254)]) {
    assert.throws(() => parseAgentSelector(text), TypeError, JSON.stringify(text));
  }
});
