import assert from "node:assert/strict";
import { ConfigError } from "../../shared/config/jsonc.ts";
import { OPERATOR_PATH } from "../../shared/protocol.ts";
import { parseServerConfig } from "../config.ts";

const LISTEN = '"listen": [{ "address": "127.0.0.1:8443", "selfSigned": true }]';

Deno.test("operatorPath and operators default when absent", () => {
  const config = parseServerConfig("s.jsonc", `{ "mode": "server", ${LISTEN} }`);
  assert.equal(config.operatorPath, OPERATOR_PATH);
  assert.deepEqual(config.operators, { maxConnections: 256, maxStreams: 256 });
});

Deno.test("operators keys are read with their bounds; unknown keys are refused", () => {
  const config = parseServerConfig(
    "s.jsonc",
    `{ "mode": "server", ${LISTEN}, "operatorPath": "/ops", "operators": { "maxConnections": 3, "maxStreams": 7 } }`,
  );
  assert.equal(config.operatorPath, "/ops");
  assert.deepEqual(config.operators, { maxConnections: 3, maxStreams: 7 });
  for (
    const bad of [
      '"operators": { "maxStreams": 0 }',
      '"operators": { "maxStreams": 4001 }',
      '"operators": { "maxConnections": 0 }',
      '"operators": { "maxChannels": 5 }',
      '"operatorPath": "ops"',
      '"operatorPath": "/.well-known/burrow-agent"',
      '"agentPath": "/x", "operatorPath": "/x"',
    ]
  ) {
    assert.throws(
      () => parseServerConfig("s.jsonc", `{ "mode": "server", ${LISTEN}, ${bad} }`),
      ConfigError,
      bad,
    );
  }
});
