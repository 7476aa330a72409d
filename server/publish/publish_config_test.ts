import assert from "node:assert/strict";
import { ConfigError } from "../../shared/config/jsonc.ts";
import { parseServerConfig } from "../config.ts";
import { listenOverlaps, samePublishEntry } from "./publish_config.ts";

const MAIN = "/etc/burrow/server.jsonc";

/** A server main file with `publish` set to `entries` (JSON text), one entry per line. */
function serverText(entries: string[]): string {
  return [
    "{",
    '  "mode": "server",',
    '  "listen": [{ "address": "0.0.0.0:443", "selfSigned": true }],',
    '  "publish": [',
    ...entries.map((e) => `    ${e},`),
    "  ]",
    "}",
  ].join("\n");
}

/** Asserts that `entries` are refused with exactly `message`. */
function assertRefused(entries: string[], message: string): void {
  assert.throws(() => parseServerConfig(MAIN, serverText(entries)), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("publish: absent means no published port", () => {
  const config = parseServerConfig(
    MAIN,
    '{ "mode": "server", "listen": [{ "address": "127.0.0.1:443", "plain": true }] }',
  );
  assert.deepEqual(config.publish, []);
});

Deno.test("publish: an entry gets its defaults (every client, 256 connections)", () => {
  const [entry, ...rest] = parseServerConfig(
    MAIN,
    serverText([
      '{ "listen": "0.0.0.0:2222", "agent": "DB1", "target": "127.0.0.1:22" }',
    ]),
  ).publish;
  assert.equal(rest.length, 0);
  assert.deepEqual(entry, {
    key: "0.0.0.0:2222",
    listen: { hostname: "0.0.0.0", port: 2222 },
    agent: "db1",
    target: { hostname: "127.0.0.1", port: 22 },
    clients: null,
    maxConnections: 256,
  });
});

Deno.test("publish: IPv6 in brackets, clients, maxConnections and a target name", () => {
  const [a, b] = parseServerConfig(
    MAIN,
    serverText([
      '{ "listen": "[::1]:5432", "agent": "db1", "target": "[::1]:5432", "clients": ["10.0.0.0/8", "2001:db8::/32"], "maxConnections": 10 }',
      '{ "listen": "127.0.0.1:0", "agent": "web-2", "target": "intranet.local:80", "clients": [] }',
    ]),
  ).publish;
  assert.equal(a?.key, "[::1]:5432");
  assert.deepEqual(a?.listen, { hostname: "::1", port: 5432 });
  assert.deepEqual(a?.target, { hostname: "::1", port: 5432 });
  assert.deepEqual(a?.clients?.entries, ["10.0.0.0/8", "2001:db8::/32"]);
  assert.equal(a?.clients?.contains("10.1.2.3"), true);
  assert.equal(a?.clients?.contains("192.168.1.1"), false);
  assert.equal(a?.maxConnections, 10);
  assert.equal(b?.key, "127.0.0.1:0");
  assert.deepEqual(b?.target, { hostname: "intranet.local", port: 80 });
  assert.equal(b?.clients, null, "an empty list allows everyone");
});

Deno.test("publish: a bad listen address or port is refused at file:line:col", () => {
  assertRefused(
    ['{ "listen": "0.0.0.0:70000", "agent": "db1", "target": "127.0.0.1:22" }'],
    `${MAIN}:5:17: publish[0].listen: "0.0.0.0:70000" has an invalid port (0 to 65535)`,
  );
  assertRefused(
    ['{ "listen": "::1:22", "agent": "db1", "target": "127.0.0.1:22" }'],
    `${MAIN}:5:17: publish[0].listen: "::1:22" is not a host:port address (like "0.0.0.0:443" or "[::1]:443")`,
  );
});

Deno.test("publish: a target needs a port from 1 to 65535", () => {
  assertRefused(
    ['{ "listen": "0.0.0.0:2222", "agent": "db1", "target": "127.0.0.1:0" }'],
    `${MAIN}:5:59: publish[0].target: "127.0.0.1:0" has an invalid port (1 to 65535)`,
  );
  assertRefused(
    ['{ "listen": "0.0.0.0:2222", "agent": "db1" }'],
    `${MAIN}:5:5: publish[0].target: is required`,
  );
});

Deno.test("publish: a listen address used twice, or overlapping a wildcard, is refused", () => {
  assertRefused(
    [
      '{ "listen": "127.0.0.1:2222", "agent": "db1", "target": "127.0.0.1:22" }',
      '{ "listen": "127.0.0.1:2222", "agent": "db2", "target": "127.0.0.1:22" }',
    ],
    `${MAIN}:6:17: publish[1].listen: 127.0.0.1:2222 is already published (entry for 127.0.0.1:2222 → agent db1)`,
  );
  assertRefused(
    [
      '{ "listen": "[::]:2222", "agent": "db1", "target": "127.0.0.1:22" }',
      '{ "listen": "127.0.0.1:2222", "agent": "db2", "target": "127.0.0.1:22" }',
    ],
    `${MAIN}:6:17: publish[1].listen: 127.0.0.1:2222 is already published (entry for [::]:2222 → agent db1)`,
  );
});

Deno.test("publish: a listen address the server listens on is refused", () => {
  assertRefused(
    ['{ "listen": "127.0.0.1:443", "agent": "db1", "target": "127.0.0.1:22" }'],
    `${MAIN}:5:17: publish[0].listen: 127.0.0.1:443 collides with the server's listener 0.0.0.0:443`,
  );
});

Deno.test("publish: unknown keys, bad agent names and bad CIDRs are refused", () => {
  assertRefused(
    ['{ "listen": "0.0.0.0:2222", "agent": "db1", "target": "127.0.0.1:22", "client": [] }'],
    `${MAIN}:5:75: publish[0].client: unknown key (did you mean "clients"?)`,
  );
  assertRefused(
    ['{ "listen": "0.0.0.0:2222", "agent": "-db1", "target": "127.0.0.1:22" }'],
    `${MAIN}:5:42: publish[0].agent: "-db1" is not a name of letters, digits, '.', '-' and '_' starting and ending with a letter or digit`,
  );
  assertRefused(
    ['{ "listen": "0.0.0.0:2222", "agent": "db1", "target": "127.0.0.1:22", "clients": ["10.0.0.0/33"] }'],
    `${MAIN}:5:87: publish[0].clients[0]: "10.0.0.0/33" is not a valid CIDR`,
  );
  assertRefused(
    ['{ "listen": "0.0.0.0:2222", "agent": "db1", "target": "127.0.0.1:22", "maxConnections": 0 }'],
    `${MAIN}:5:93: publish[0].maxConnections: 0 is out of range (1 to 100000)`,
  );
  assertRefused(
    ['"0.0.0.0:2222"'],
    `${MAIN}:5:5: publish[0]: expected an object, got "0.0.0.0:2222"`,
  );
});

Deno.test("listenOverlaps() is a same port on the same host or a wildcard; port 0 never", () => {
  const at = (hostname: string, port: number) => ({ hostname, port });
  assert.equal(listenOverlaps(at("127.0.0.1", 22), at("127.0.0.1", 22)), true);
  assert.equal(listenOverlaps(at("0.0.0.0", 22), at("10.0.0.1", 22)), true);
  assert.equal(listenOverlaps(at("10.0.0.1", 22), at("::", 22)), true);
  assert.equal(listenOverlaps(at("127.0.0.1", 22), at("127.0.0.2", 22)), false);
  assert.equal(listenOverlaps(at("0.0.0.0", 22), at("0.0.0.0", 23)), false);
  assert.equal(listenOverlaps(at("0.0.0.0", 0), at("0.0.0.0", 0)), false);
  // An IPv4 wildcard takes the port on IPv4 addresses (and [::], dual-stack), not on ::1.
  assert.equal(listenOverlaps(at("0.0.0.0", 22), at("::1", 22)), false);
  assert.equal(listenOverlaps(at("2001:db8::5", 22), at("0.0.0.0", 22)), false);
  assert.equal(listenOverlaps(at("0.0.0.0", 22), at("::", 22)), true);
  assert.equal(listenOverlaps(at("0.0.0.0", 22), at("::ffff:10.0.0.1", 22)), true);
  assert.equal(listenOverlaps(at("::", 22), at("::1", 22)), true);
});

Deno.test("samePublishEntry() sees a change of agent, target, clients or limit", () => {
  const entries = parseServerConfig(
    MAIN,
    serverText([
      '{ "listen": "127.0.0.1:1", "agent": "db1", "target": "127.0.0.1:22" }',
      '{ "listen": "127.0.0.2:1", "agent": "db2", "target": "127.0.0.1:22" }',
      '{ "listen": "127.0.0.3:1", "agent": "db1", "target": "127.0.0.1:23" }',
      '{ "listen": "127.0.0.4:1", "agent": "db1", "target": "127.0.0.1:22", "clients": ["::1"] }',
      '{ "listen": "127.0.0.5:1", "agent": "db1", "target": "127.0.0.1:22", "maxConnections": 1 }',
    ]),
  ).publish;
  const [base, ...others] = entries;
  for (const other of others) {
    assert.equal(samePublishEntry(base!, { ...other, key: base!.key }), false, other.key);
  }
  assert.equal(samePublishEntry(base!, { ...base! }), true);
});
