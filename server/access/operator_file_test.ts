import assert from "node:assert/strict";
import { hashSecret } from "../../shared/auth/secret.ts";
import { hashToken } from "../../shared/auth/token.ts";
import { ConfigError } from "../../shared/config/jsonc.ts";
import { parseOperatorFile } from "./operator_file.ts";

const FILE = "operators.d/alice.jsonc";
const HASH = hashToken("burrow_test-token");

Deno.test("parseOperatorFile() reads token hash, agents, kinds and networks", () => {
  const operator = parseOperatorFile(
    "operators.d/Alice.jsonc",
    `{
    "token": "${HASH}",
    "agents": ["db1", "WEB-*", "group:customer-*"],
    "kinds": ["socks", "forward", "shell", "forward"],
    "networks": ["203.0.113.0/24"],
  }`,
  );
  assert.equal(operator.name, "alice");
  assert.equal(operator.token, HASH);
  assert.deepEqual(operator.agents.map((s) => [s.on, s.text]), [
    ["name", "db1"],
    ["name", "web-*"],
    ["group", "group:customer-*"],
  ]);
  assert.deepEqual(operator.kinds, ["forward", "socks", "shell"], "known order, no repeats");
  assert.equal(operator.networks?.contains("203.0.113.9"), true);
});

Deno.test("parseOperatorFile() defaults to no agents, no kinds, any network; takes $6$", () => {
  const stored = hashSecret("a token a person chose");
  const operator = parseOperatorFile(FILE, JSON.stringify({ token: stored }));
  assert.equal(operator.token, stored);
  assert.deepEqual(operator.agents, []);
  assert.deepEqual(operator.kinds, []);
  assert.equal(operator.networks, null);
});

Deno.test("parseOperatorFile() accepts every channel kind, reserved ones included", () => {
  const kinds = ["forward", "udp", "socks", "admin", "shell", "services", "diagnostics"];
  const operator = parseOperatorFile(FILE, JSON.stringify({ token: HASH, kinds }));
  assert.deepEqual(operator.kinds, kinds);
});

Deno.test("parseOperatorFile() names file:line:column and key of each mistake", () => {
  const t = `"token": "${HASH}"`;
  // text, expected message start
  const cases: [string, string][] = [
    ["{}", `${FILE}:1:1: token: is required`],
    [
      '{\n  "token": "burrow_plain"\n}',
      `${FILE}:2:12: token: must be a hash, not the token itself: "sha256:…" from 'burrow token', or "$6$…"`,
    ],
    [
      '{\n  "token": "sha256:abc"\n}',
      `${FILE}:2:12: token: starts with "sha256:" but is not 64 lower-case hex digits after it`,
    ],
    [
      `{\n  "token": "${HASH.toUpperCase().replace("SHA256", "sha256")}"\n}`,
      `${FILE}:2:12: token: starts with "sha256:" but is not 64 lower-case hex digits`,
    ],
    [
      '{\n  "token": "$6$nope"\n}',
      `${FILE}:2:12: token: starts with $6$ but is not a valid SHA-512 crypt hash`,
    ],
    ['{\n  "token": ""\n}', `${FILE}:2:12: token: must not be empty`],
    [
      `{ ${t},\n  "agents": ["db1", "db 2"] }`,
      `${FILE}:2:21: agents[1]: "db 2" is not an agent selector`,
    ],
    [`{ ${t},\n  "agents": [7] }`, `${FILE}:2:14: agents[0]: expected a string, got 7`],
    [
      `{ ${t},\n  "kinds": ["forward", "ssh"] }`,
      `${FILE}:2:24: kinds[1]: "ssh" is not one of "forward", "udp", "socks", "admin", "shell", "services", "diagnostics"`,
    ],
    [`{ ${t},\n  "kinds": "forward" }`, `${FILE}:2:12: kinds: expected an array, got "forward"`],
    [
      `{ ${t},\n  "networks": ["203.0.113.0/33"] }`,
      `${FILE}:2:16: networks[0]: "203.0.113.0/33" is not a valid CIDR`,
    ],
    [`{ ${t},\n  "kind": [] }`, `${FILE}:2:3: kind: unknown key (did you mean "kinds"?)`],
    [`{ ${t},\n  "token": "x" }`, `${FILE}:2:3: token: duplicate key`],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseOperatorFile(FILE, text), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(e.message.startsWith(expected), `${e.message}\n  expected: ${expected}`);
      return true;
    });
  }
});
