import assert from "node:assert/strict";
import { ConfigError } from "../shared/config/jsonc.ts";
import { loadAgentConfig, parseAgentConfig, parseAgentDomain } from "./config.ts";
import { defaultForwardConfig } from "./forward/config.ts";

const MAIN = "/etc/burrow/agent.jsonc";
const DOMAIN = "/etc/burrow/agent.d/www.example.com.jsonc";
const ACTIVE = '"active": true, "secret": "s3cret"';

/** Asserts that `fn` throws a ConfigError whose message is `message`. */
function assertConfigError(fn: () => unknown, message: string, code?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, message);
    if (code !== undefined) assert.equal(e.code, code);
    return true;
  });
}

Deno.test("parseAgentConfig() fills defaults around a minimal file", () => {
  assert.deepEqual(parseAgentConfig(MAIN, '{ "mode": "agent" }'), {
    file: MAIN,
    domains: "/etc/burrow/agent.d",
    connectTimeout: 5000,
    readTimeout: 60_000,
    idleTimeout: 60_000,
    reconnect: { fastMax: 1000, fastFor: 90_000, max: 30_000, dialTimeout: 10_000 },
    identity: null,
    log: { level: "info", system: [{ type: "console" }], access: [], unavailable: false },
    forward: defaultForwardConfig(),
  });
});

Deno.test("parseAgentConfig() reads every key", () => {
  const config = parseAgentConfig(
    MAIN,
    `{
    "mode": "agent",
    "domains": "domains",
    "connectTimeout": "2s",
    "readTimeout": "5m",
    "idleTimeout": 30,
    "log": { "level": "debug", "system": ["console", { "file": "agent.log", "maxFiles": 2 }] },
  }`,
  );
  assert.equal(config.domains, "/etc/burrow/domains");
  assert.equal(config.connectTimeout, 2000);
  assert.equal(config.readTimeout, 300_000);
  assert.equal(config.idleTimeout, 30_000);
  assert.deepEqual(config.log.system, [
    { type: "console" },
    { type: "file", path: "/etc/burrow/agent.log", maxSize: 10 * 1024 ** 2, maxFiles: 2 },
  ]);
});

Deno.test("parseAgentConfig() rejects mistakes with file:line:col and key", () => {
  const cases: [string, string, string][] = [
    ["{}", `${MAIN}:1:1: mode: is required`, "missing"],
    [
      '{ "mode": "server" }',
      `${MAIN}:1:11: mode: this is a server config, not an agent one (run it with 'burrow server')`,
      "invalid",
    ],
    [
      '{ "mode": "agent", "connectTimeout": "0s" }',
      `${MAIN}:1:38: connectTimeout: "0s" is out of range (1s to 10m)`,
      "invalid",
    ],
    [
      '{ "mode": "agent", "readTimeout": "1h" }',
      `${MAIN}:1:35: readTimeout: "1h" is out of range (1s to 10m)`,
      "invalid",
    ],
    [
      '{ "mode": "agent", "write_timeout": "1s" }',
      `${MAIN}:1:20: write_timeout: unknown key`,
      "unknown-key",
    ],
    [
      '{ "mode": "agent", "connect_timeout": "1s" }',
      `${MAIN}:1:20: connect_timeout: unknown key (did you mean "connectTimeout"?)`,
      "unknown-key",
    ],
    [
      '{ "mode": "agent", "log": { "access": [] } }',
      `${MAIN}:1:29: log.access: unknown key`,
      "unknown-key",
    ],
    ['{ "mode": "agent", "listen": [] }', `${MAIN}:1:20: listen: unknown key`, "unknown-key"],
  ];
  for (const [text, message, code] of cases) {
    assertConfigError(() => parseAgentConfig(MAIN, text), message, code);
  }
});

Deno.test("loadAgentConfig() reads a file and reports a missing one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/agent.jsonc`, '{ "mode": "agent" }');
    assert.equal((await loadAgentConfig(`${dir}/agent.jsonc`)).domains, `${dir}/agent.d`);
    await assert.rejects(() => loadAgentConfig(`${dir}/none.jsonc`), ConfigError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseAgentDomain() fills defaults from the file name", () => {
  const domain = parseAgentDomain("/etc/burrow/agent.d/Tunnel.Example.com.jsonc", "{}");
  assert.deepEqual(domain, {
    name: "tunnel.example.com",
    file: "/etc/burrow/agent.d/Tunnel.Example.com.jsonc",
    active: false,
    secret: "",
    remote: "tunnel.example.com:443",
    service: "/.well-known/burrow-agent",
    concurrency: 20,
    insecure: false,
    caFile: null,
    targets: [],
  });
});

Deno.test("parseAgentDomain() reads every key and compiles targets", () => {
  const domain = parseAgentDomain(
    DOMAIN,
    `{
    "active": true,
    "secret": "super-secret",
    "remote": "localhost:8443",
    "service": "/tunnel",
    "concurrency": 50,
    "insecure": true,
    "caFile": "ca.pem",
    "targets": [
      {
        "name": "static",
        "method": "^(OPTIONS|HEAD|GET)$",
        "path": "^/static/.+$",
        "host": "static.example.com",
        "target": "https://localhost:4443/bucket/statics?user=johndoe",
      },
      { "target": ["http://127.0.0.1:8001", { "url": "http://127.0.0.1:8002", "weight": 3 }] },
    ],
  }`,
  );
  assert.equal(domain.active, true);
  assert.equal(domain.secret, "super-secret");
  assert.equal(domain.remote, "localhost:8443");
  assert.equal(domain.service, "/tunnel");
  assert.equal(domain.concurrency, 50);
  assert.equal(domain.insecure, true);
  assert.equal(domain.caFile, "/etc/burrow/agent.d/ca.pem");
  const [statics, fallback] = domain.targets;
  assert.ok(statics && fallback);
  assert.equal(statics.name, "static");
  assert.equal(statics.method?.test("get"), true, "method filters ignore case");
  assert.equal(statics.method?.test("POST"), false);
  assert.equal(statics.path?.test("/static/app.js"), true);
  assert.equal(statics.path?.test("/api"), false);
  assert.equal(statics.host, "static.example.com");
  assert.deepEqual(statics.urls.map((u) => [u.url.href, u.weight]), [
    ["https://localhost:4443/bucket/statics?user=johndoe", 1],
  ]);
  assert.equal(fallback.name, "targets[1]");
  assert.equal(fallback.method, null);
  assert.equal(fallback.path, null);
  assert.equal(fallback.host, null);
  assert.deepEqual(fallback.urls.map((u) => [u.url.href, u.weight]), [
    ["http://127.0.0.1:8001/", 1],
    ["http://127.0.0.1:8002/", 3],
  ]);
});

Deno.test("parseAgentDomain() rejects mistakes with file:line:col and key", () => {
  const target = '"targets": [{ "target": "http://127.0.0.1:8000" }]';
  const cases: [string, string, string][] = [
    [
      '{ "active": true, "targets": [] }',
      `${DOMAIN}:1:1: secret: is required when active is true`,
      "missing",
    ],
    [
      `{ ${ACTIVE} }`,
      `${DOMAIN}:1:1: targets: an active domain needs at least one target`,
      "missing",
    ],
    [
      `{ ${ACTIVE}, "targets": [] }`,
      `${DOMAIN}:1:50: targets: an active domain needs at least one target`,
      "missing",
    ],
    [
      '{ "secret": "$6$saltsalt$abc" }',
      `${DOMAIN}:1:13: secret: must be the secret itself: only the server's copy may be a $6$ hash`,
      "invalid",
    ],
    [
      '{ "remote": "localhost" }',
      `${DOMAIN}:1:13: remote: "localhost" is not a host:port address (like "0.0.0.0:443" or "[::1]:443")`,
      "invalid",
    ],
    [
      '{ "remote": "localhost:0" }',
      `${DOMAIN}:1:13: remote: "localhost:0" has an invalid port (1 to 65535)`,
      "invalid",
    ],
    [
      '{ "service": "agent" }',
      `${DOMAIN}:1:14: service: "agent" is not a URL path starting with "/"`,
      "invalid",
    ],
    [
      '{ "concurrency": 0 }',
      `${DOMAIN}:1:18: concurrency: 0 is out of range (1 to 10000)`,
      "invalid",
    ],
    [
      '{ "targets": [{ "path": "^/(a" , "target": "http://x" }] }',
      `${DOMAIN}:1:25: targets[0].path: "^/(a" is not a valid regular expression: Invalid regular expression: /^/(a/: Unterminated group`,
      "invalid",
    ],
    [
      '{ "targets": [{ "method": "[" , "target": "http://x" }] }',
      `${DOMAIN}:1:27: targets[0].method: "[" is not a valid regular expression: Invalid regular expression: /[/i: Unterminated character class`,
      "invalid",
    ],
    [
      '{ "targets": [{ "target": "ws://localhost:8000" }] }',
      `${DOMAIN}:1:27: targets[0].target: "ws://localhost:8000" must be an http or https URL`,
      "invalid",
    ],
    [
      '{ "targets": [{ "target": "localhost:8000" }] }',
      `${DOMAIN}:1:27: targets[0].target: "localhost:8000" must be an http or https URL`,
      "invalid",
    ],
    [
      '{ "targets": [{ "target": "not a url" }] }',
      `${DOMAIN}:1:27: targets[0].target: "not a url" is not a URL`,
      "invalid",
    ],
    [
      '{ "targets": [{ "target": [] }] }',
      `${DOMAIN}:1:27: targets[0].target: needs at least one URL`,
      "invalid",
    ],
    [
      '{ "targets": [{ "target": [{ "url": "http://x", "weight": 0 }] }] }',
      `${DOMAIN}:1:59: targets[0].target[0].weight: 0 is out of range (1 to 100)`,
      "invalid",
    ],
    [
      '{ "targets": [{ "target": [3] }] }',
      `${DOMAIN}:1:28: targets[0].target[0]: expected a URL or { "url": …, "weight": … }, got 3`,
      "type",
    ],
    [
      '{ "targets": [{ "path": "^/" }] }',
      `${DOMAIN}:1:15: targets[0].target: is required`,
      "missing",
    ],
    [
      '{ "targets": [{ "target": "http://x", "host": "a b" }] }',
      `${DOMAIN}:1:47: targets[0].host: "a b" is not a Host header value (a name, with an optional port)`,
      "invalid",
    ],
    [
      '{ "targets": [{ "target": "http://x", "methods": "GET" }] }',
      `${DOMAIN}:1:39: targets[0].methods: unknown key (did you mean "method"?)`,
      "unknown-key",
    ],
    [
      `{ ${target}, "insecure": "yes" }`,
      `${DOMAIN}:1:67: insecure: expected true or false, got "yes"`,
      "type",
    ],
  ];
  for (const [text, message, code] of cases) {
    assertConfigError(() => parseAgentDomain(DOMAIN, text), message, code);
  }
});

Deno.test("parseAgentDomain() with checkFiles requires caFile to exist", () => {
  assertConfigError(
    () => parseAgentDomain(DOMAIN, '{ "caFile": "missing-ca.pem" }', { checkFiles: true }),
    `${DOMAIN}:1:13: caFile: file "/etc/burrow/agent.d/missing-ca.pem" does not exist`,
    "io",
  );
});

Deno.test("an agent with an identity and no domains key has no domain folder; with the key it has", () => {
  const identity = '"name": "db1", "secret": "s", "remote": "tunnel.example.com:443"';
  const only = parseAgentConfig("/etc/burrow/agent.jsonc", `{ "mode": "agent", ${identity} }`);
  assert.equal(only.domains, null);
  const both = parseAgentConfig(
    "/etc/burrow/agent.jsonc",
    `{ "mode": "agent", ${identity}, "domains": "agent.d" }`,
  );
  assert.equal(both.domains, "/etc/burrow/agent.d");
  const neither = parseAgentConfig("/etc/burrow/agent.jsonc", '{ "mode": "agent" }');
  assert.equal(neither.domains, "/etc/burrow/agent.d");
});
