import assert from "node:assert/strict";
import { hashSecret } from "../../shared/auth/secret.ts";
import { ConfigError } from "../../shared/config/jsonc.ts";
import { parseAgentFile } from "./agent_file.ts";

const FILE = "agents.d/db1.jsonc";

Deno.test("parseAgentFile() reads secret, networks and groups; the name is the file's", () => {
  const stored = hashSecret("agent-secret");
  const agent = parseAgentFile(
    "agents.d/DB1.jsonc",
    `{
    // the machine in rack 4
    "secret": "${stored}",
    "networks": ["198.51.100.0/24", "2001:db8::/32"],
    "groups": ["Linux", "customer-acme", "linux"],
  }`,
  );
  assert.equal(agent.name, "db1");
  assert.ok(agent.file.endsWith("agents.d/DB1.jsonc"));
  assert.equal(agent.secret, stored);
  assert.equal(agent.networks?.contains("198.51.100.7"), true);
  assert.equal(agent.networks?.contains("203.0.113.1"), false);
  assert.deepEqual(agent.groups, ["customer-acme", "linux"], "lower-cased, sorted, no repeats");
});

Deno.test("parseAgentFile() takes a plain secret as domain files do; no networks allows any", () => {
  const agent = parseAgentFile(FILE, '{ "secret": "plain-secret" }');
  assert.equal(agent.secret, "plain-secret");
  assert.equal(agent.networks, null);
  assert.deepEqual(agent.groups, []);
});

Deno.test("parseAgentFile() without a secret: an agent that identifies by certificate only", () => {
  const agent = parseAgentFile(FILE, '{ "groups": ["ops"] }');
  assert.equal(agent.secret, null);
  assert.deepEqual(agent.groups, ["ops"]);
});

Deno.test("parseAgentFile() names file:line:column and key of each mistake", () => {
  // text, expected message
  const cases: [string, string][] = [
    ['{\n  "secret": ""\n}', `${FILE}:2:13: secret: must not be empty`],
    ['{\n  "secret": 42\n}', `${FILE}:2:13: secret: expected a string, got 42`],
    [
      '{\n  "secret": "$6$short"\n}',
      `${FILE}:2:13: secret: starts with $6$ but is not a valid SHA-512 crypt hash`,
    ],
    [
      '{ "secret": "s",\n  "networks": ["10.0.0.0/8", "10.0.0.300/8"] }',
      `${FILE}:2:30: networks[1]: "10.0.0.300/8" is not a valid CIDR`,
    ],
    [
      '{ "secret": "s",\n  "networks": "10.0.0.0/8" }',
      `${FILE}:2:15: networks: expected an array, got "10.0.0.0/8"`,
    ],
    [
      '{ "secret": "s",\n  "groups": ["ok", "not ok"] }',
      `${FILE}:2:20: groups[1]: "not ok" is not a group: expected a name of letters`,
    ],
    [
      '{ "secret": "s",\n  "group": [] }',
      `${FILE}:2:3: group: unknown key (did you mean "groups"?)`,
    ],
    ['{ "secret": "s", }\n}', `${FILE}:2:1: Syntax error: end of file expected`],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseAgentFile(FILE, text), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(e.message.startsWith(expected), `${e.message}\n  expected: ${expected}`);
      return true;
    });
  }
});

Deno.test("parseAgentFile() refuses a file name that is not an agent name", () => {
  assert.throws(
    () => parseAgentFile("agents.d/db 1.jsonc", '{ "secret": "s" }'),
    /agents\.d\/db 1\.jsonc: File name must be a name of letters/,
  );
});
