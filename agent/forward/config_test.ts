import assert from "node:assert/strict";
import { parseAgentConfig } from "../config.ts";
import { ConfigError } from "../../shared/config/jsonc.ts";

const FILE = "/etc/burrow/agent.jsonc";

Deno.test("forward config: defaults allow the agent machine only, UDP flows idle out after 60 s", () => {
  const { forward } = parseAgentConfig(FILE, '{ "mode": "agent" }');
  assert.deepEqual(forward.allowlist.entries, ["localhost"]);
  assert.equal(forward.udpIdleTimeout, 60_000);
  assert.equal(forward.allowlist.check("127.0.0.1", 22).allowed, true);
  assert.equal(forward.allowlist.check("10.0.0.1", 22).allowed, false);
});

Deno.test("forward config: allow and udpIdleTimeout are read", () => {
  const { forward } = parseAgentConfig(
    FILE,
    `{
      "mode": "agent",
      "forward": {
        // comments are fine
        "allow": ["10.0.0.0/8:22", "[::1]:5432", "db.lan:5432-5433", "169.254.169.254:80"],
        "udpIdleTimeout": "5s",
      },
    }`,
  );
  assert.equal(forward.udpIdleTimeout, 5000);
  assert.equal(forward.allowlist.check("10.9.9.9", 22).allowed, true);
  assert.equal(forward.allowlist.check("127.0.0.1", 22).allowed, false, "no default when listed");
  assert.equal(forward.allowlist.check("169.254.169.254", 80).allowed, true);
});

Deno.test("forward config: an empty allow list allows nothing", () => {
  const { forward } = parseAgentConfig(FILE, '{ "mode": "agent", "forward": { "allow": [] } }');
  assert.equal(forward.allowlist.check("127.0.0.1", 22).allowed, false);
});

Deno.test("forward config: mistakes are reported at file:line:col with the key", () => {
  const cases: [string, string][] = [
    [
      '{ "mode": "agent", "forward": { "allow": ["10.0.0.1"] } }',
      `${FILE}:1:43: forward.allow[0]: Allowlist entry "10.0.0.1" is not host:ports`,
    ],
    [
      '{ "mode": "agent", "forward": { "allow": ["localhost", "10.0.0.0/8:0-9"] } }',
      `${FILE}:1:56: forward.allow[1]: Allowlist entry "10.0.0.0/8:0-9" has an invalid port`,
    ],
    [
      '{ "mode": "agent", "forward": { "allow": "localhost" } }',
      `${FILE}:1:42: forward.allow: expected an array`,
    ],
    [
      '{ "mode": "agent", "forward": { "udpIdleTimeout": "2h" } }',
      `${FILE}:1:51: forward.udpIdleTimeout: "2h" is out of range (1s to 1h)`,
    ],
    [
      '{ "mode": "agent", "forward": { "alow": [] } }',
      `${FILE}:1:33: forward.alow: unknown key (did you mean "allow"?)`,
    ],
  ];
  for (const [text, prefix] of cases) {
    assert.throws(() => parseAgentConfig(FILE, text), (e: Error) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(e.message.startsWith(prefix), `${e.message}\n  expected: ${prefix}`);
      return true;
    });
  }
});
