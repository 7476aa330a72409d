import assert from "node:assert/strict";
import { ConfigError } from "../shared/config/jsonc.ts";
import { parseServerConfig } from "./config.ts";

const MAIN = "/etc/burrow/server.jsonc";
const PAIR = '"listen": [{ "address": "127.0.0.1:8443", "cert": "c.pem", "key": "k.pem" }]';
const SELF = '"listen": [{ "address": "127.0.0.1:8443", "selfSigned": true }]';

Deno.test("agentCertificates: off by default; cert and key default to the first listener's files", () => {
  assert.equal(parseServerConfig(MAIN, `{ "mode": "server", ${PAIR} }`).agentCertificates, null);
  const shared = parseServerConfig(
    MAIN,
    `{ "mode": "server", ${PAIR}, "agentCertificates": { "listen": "0.0.0.0:8444", "ca": "ca.pem" } }`,
  );
  assert.deepEqual(shared.agentCertificates, {
    hostname: "0.0.0.0",
    port: 8444,
    ca: "/etc/burrow/ca.pem",
    cert: "/etc/burrow/c.pem",
    key: "/etc/burrow/k.pem",
  });
  const own = parseServerConfig(
    MAIN,
    `{ "mode": "server", ${SELF}, "agentCertificates": {
      "listen": "[::]:8444", "ca": "/pki/agents.pem", "cert": "a.pem", "key": "b.pem" } }`,
  );
  assert.deepEqual(own.agentCertificates, {
    hostname: "::",
    port: 8444,
    ca: "/pki/agents.pem",
    cert: "/etc/burrow/a.pem",
    key: "/etc/burrow/b.pem",
  });
});

Deno.test("agentCertificates mistakes name file:line:col and key", () => {
  const cases: [string, string][] = [
    [
      `{ "mode": "server", ${PAIR}, "agentCertificates": { "ca": "ca.pem" } }`,
      `${MAIN}:1:120: agentCertificates.listen: is required`,
    ],
    [
      // The server could not bind it beside the listener: burrow check must say so.
      `{ "mode": "server", ${PAIR}, "agentCertificates": { "listen": "0.0.0.0:8443", "ca": "ca.pem" } }`,
      `${MAIN}:1:132: agentCertificates.listen: 0.0.0.0:8443 collides with the listener 127.0.0.1:8443`,
    ],
    [
      `{ "mode": "server", ${PAIR}, "publish": [{ "listen": "0.0.0.0:2222", "agent": "db1", "target": "127.0.0.1:22" }], "agentCertificates": { "listen": "127.0.0.1:2222", "ca": "ca.pem" } }`,
      `${MAIN}:1:217: agentCertificates.listen: 127.0.0.1:2222 collides with the published port 0.0.0.0:2222`,
    ],
    [
      `{ "mode": "server", ${PAIR}, "agentCertificates": { "listen": "0.0.0.0:8444" } }`,
      `${MAIN}:1:120: agentCertificates.ca: is required`,
    ],
    [
      `{ "mode": "server", ${PAIR}, "agentCertificates": { "listen": "8444", "ca": "ca.pem" } }`,
      `${MAIN}:1:132: agentCertificates.listen: "8444" is not a host:port address (like "0.0.0.0:443" or "[::1]:443")`,
    ],
    [
      `{ "mode": "server", ${SELF}, "agentCertificates": { "listen": "0.0.0.0:8444", "ca": "ca.pem" } }`,
      `${MAIN}:1:107: agentCertificates.cert: is required: the first listener has no "cert" and "key" files to share`,
    ],
    [
      `{ "mode": "server", ${PAIR}, "agentCertificates": { "listen": "0.0.0.0:8444", "ca": "ca.pem", "key": "k.pem" } }`,
      `${MAIN}:1:120: agentCertificates.cert: is required with "key"`,
    ],
    [
      `{ "mode": "server", ${PAIR}, "agentCertificates": { "listen": "0.0.0.0:8444", "ca": "ca.pem", "requestCert": true } }`,
      `${MAIN}:1:164: agentCertificates.requestCert: unknown key`,
    ],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseServerConfig(MAIN, text), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.message, expected);
      return true;
    });
  }
});
