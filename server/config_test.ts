import assert from "node:assert/strict";
import { ConfigError } from "../shared/config/jsonc.ts";
import { loadServerConfig, parseServerConfig, parseServerDomain } from "./config.ts";

const MAIN = "/etc/burrow/server.jsonc";
const DOMAIN = "/etc/burrow/server.d/www.example.com.jsonc";

/** Asserts that `fn` throws a ConfigError whose message is `message`. */
function assertConfigError(fn: () => unknown, message: string | RegExp, code?: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    if (code !== undefined) assert.equal(e.code, code);
    return true;
  });
}

Deno.test("parseServerConfig() fills every default around a minimal file", () => {
  const config = parseServerConfig(
    MAIN,
    '{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "selfSigned": true }] }',
  );
  assert.deepEqual(config, {
    file: MAIN,
    listen: [{ hostname: "127.0.0.1", port: 8443, tls: "self-signed" }],
    certificates: [],
    agentPath: "/.well-known/burrow-agent",
    operatorPath: "/.well-known/burrow-operator",
    domains: "/etc/burrow/server.d",
    agentCertificates: null,
    agentFiles: null,
    operatorFiles: null,
    unavailableStatus: 404,
    transactionId: true,
    limits: {
      headerSize: 64 * 1024,
      bodySize: 8 * 1024 * 1024,
      readTimeout: 10_000,
      writeTimeout: 20_000,
      idleTimeout: 60_000,
      bodyMinRate: 1024,
      authFailures: {
        perAddress: 10,
        perAccount: 50,
        window: 60_000,
        lockout: 60_000,
        maxLockout: 3_600_000,
        tableSize: 10_000,
      },
    },
    agents: {
      registerTimeout: 10_000,
      openTimeout: 5_000,
      maxConnections: 10_000,
      maxPerAddress: 100,
      maxPending: 1000,
      retryAfter: 10_000,
      holdTime: 5_000,
    },
    operators: { maxConnections: 256, maxStreams: 256 },
    log: { level: "info", system: [{ type: "console" }], access: [], unavailable: false },
    dataDir: "/etc/burrow/data",
    audit: {
      retentionDays: 90,
      flushInterval: 500,
      batchSize: 200,
      queueSize: 10_000,
      sessionGrace: 60_000,
    },
    publish: [],
  });
});

Deno.test("parseServerConfig() reads every key", () => {
  const config = parseServerConfig(
    MAIN,
    `{
    // a comment
    "mode": "server",
    "listen": [
      { "address": "0.0.0.0:443", "cert": "tls/cert.pem", "key": "/abs/key.pem" },
      { "address": "[::]:4443", "sni": true },
      { "address": "127.0.0.1:0", "plain": true },
    ],
    "certificates": [
      { "pattern": "*.Dev.Example.com", "cert": "dev.pem", "key": "dev.key" },
      { "pattern": "*", "cert": "fallback.pem", "key": "fallback.key" },
    ],
    "agentPath": "/tunnel",
    "domains": "/srv/domains",
    "agentFiles": "agents.d",
    "operatorFiles": "/srv/operators.d",
    "unavailableStatus": 503,
    "transactionId": false,
    "limits": {
      "headerSize": "32kB", "bodySize": "1GB", "readTimeout": 1, "writeTimeout": "10m", "idleTimeout": "90s", "bodyMinRate": "100B",
      "authFailures": {
        "perAddress": 0, "perAccount": 7, "window": "10m", "lockout": "5s", "maxLockout": "24h", "tableSize": 100,
      },
    },
    "agents": { "registerTimeout": "3s", "openTimeout": "2s", "maxConnections": 500, "maxPerAddress": 5, "maxPending": 7, "retryAfter": "1m", "holdTime": "2s" },
    "log": { "level": "warning", "system": [{ "file": "log/system.log" }], "access": ["console"], "unavailable": true },
  }`,
  );
  assert.deepEqual(config.listen, [
    {
      hostname: "0.0.0.0",
      port: 443,
      tls: { cert: "/etc/burrow/tls/cert.pem", key: "/abs/key.pem" },
    },
    { hostname: "::", port: 4443, tls: "sni" },
    { hostname: "127.0.0.1", port: 0, tls: null },
  ]);
  assert.deepEqual(config.certificates, [
    { pattern: "*.dev.example.com", cert: "/etc/burrow/dev.pem", key: "/etc/burrow/dev.key" },
    { pattern: "*", cert: "/etc/burrow/fallback.pem", key: "/etc/burrow/fallback.key" },
  ]);
  assert.equal(config.agentPath, "/tunnel");
  assert.equal(config.domains, "/srv/domains");
  assert.equal(config.agentFiles, "/etc/burrow/agents.d", "relative to the main file");
  assert.equal(config.operatorFiles, "/srv/operators.d");
  assert.equal(config.unavailableStatus, 503);
  assert.equal(config.transactionId, false);
  assert.deepEqual(config.limits, {
    headerSize: 32 * 1024,
    bodySize: 1024 ** 3,
    readTimeout: 1000,
    writeTimeout: 600_000,
    idleTimeout: 90_000,
    bodyMinRate: 100,
    authFailures: {
      perAddress: 0,
      perAccount: 7,
      window: 600_000,
      lockout: 5000,
      maxLockout: 86_400_000,
      tableSize: 100,
    },
  });
  assert.deepEqual(config.agents, {
    registerTimeout: 3000,
    openTimeout: 2000,
    maxConnections: 500,
    maxPerAddress: 5,
    maxPending: 7,
    retryAfter: 60_000,
    holdTime: 2_000,
  });
  assert.deepEqual(config.log, {
    level: "warning",
    system: [{
      type: "file",
      path: "/etc/burrow/log/system.log",
      maxSize: 10 * 1024 ** 2,
      maxFiles: 5,
    }],
    access: [{ type: "console" }],
    unavailable: true,
  });
});

Deno.test("parseServerConfig() rejects mistakes with file:line:col and key", () => {
  const listen = '"listen": [{ "address": "127.0.0.1:8443", "selfSigned": true }]';
  const cases: [string, string, string][] = [
    ["{}", `${MAIN}:1:1: mode: is required`, "missing"],
    [
      '{ "mode": "agent" }',
      `${MAIN}:1:11: mode: this is an agent config, not a server one (run it with 'burrow agent')`,
      "invalid",
    ],
    ['{ "mode": "both" }', `${MAIN}:1:11: mode: "both" is not one of "server", "agent"`, "invalid"],
    ['{ "mode": "server" }', `${MAIN}:1:1: listen: is required`, "missing"],
    [
      '{ "mode": "server", "listen": [] }',
      `${MAIN}:1:31: listen: needs at least one listener`,
      "invalid",
    ],
    [
      '{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443" }] }',
      `${MAIN}:1:32: listen[0]: needs one of "cert" and "key", "sni": true, "certificates", "selfSigned": true or "plain": true`,
      "invalid",
    ],
    [
      '{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "plain": true, "sni": true }] }',
      `${MAIN}:1:32: listen[0]: must have only one of "cert" and "key", "sni": true, "certificates", "selfSigned": true or "plain": true`,
      "invalid",
    ],
    [
      '{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "cert": "c.pem" }] }',
      `${MAIN}:1:32: listen[0].key: is required with "cert"`,
      "missing",
    ],
    [
      // Linux binds [::] for IPv4 too: the server could not start with both.
      '{ "mode": "server", "listen": [{ "address": "0.0.0.0:443", "plain": true }, { "address": "[::]:443", "plain": true }] }',
      `${MAIN}:1:90: listen[1].address: [::]:443 collides with the listener 0.0.0.0:443 (a wildcard address takes the port on every address)`,
      "invalid",
    ],
    [
      '{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "plain": true }, { "address": "127.0.0.1:8443", "selfSigned": true }] }',
      `${MAIN}:1:93: listen[1].address: 127.0.0.1:8443 collides with the listener 127.0.0.1:8443`,
      "invalid",
    ],
    [
      '{ "mode": "server", "listen": [{ "address": "localhost", "plain": true }] }',
      `${MAIN}:1:45: listen[0].address: "localhost" is not a host:port address (like "0.0.0.0:443" or "[::1]:443")`,
      "invalid",
    ],
    [
      '{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "sni": true }] }',
      `${MAIN}:1:1: certificates: is required by a listener with "sni": true`,
      "missing",
    ],
    [
      `{ "mode": "server", ${listen}, "certificates": [{ "pattern": "*.*.com", "cert": "c", "key": "k" }] }`,
      `${MAIN}:1:116: certificates[0].pattern: "*.*.com" is not a host name, "*.domain" or "*"`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "certificates": [{ "regex": "^(a", "cert": "c", "key": "k" }] }`,
      `${MAIN}:1:114: certificates[0].regex: "^(a" is not a valid regular expression: /^(a/i: Unterminated group`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "certificates": [{ "pattern": "*", "regex": "x", "cert": "c", "key": "k" }] }`,
      `${MAIN}:1:103: certificates[0]: needs exactly one of "pattern" and "regex"`,
      "invalid",
    ],
    [
      '{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "certificates": [] }] }',
      `${MAIN}:1:79: listen[0].certificates: needs at least one certificate`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "agentPath": "tunnel" }`,
      `${MAIN}:1:99: agentPath: "tunnel" is not a URL path starting with "/"`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "unavailableStatus": 999 }`,
      `${MAIN}:1:107: unavailableStatus: 999 is out of range (200 to 599)`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "limits": { "headerSize": "65kB" } }`,
      `${MAIN}:1:112: limits.headerSize: "65kB" is out of range (1kB to 64kB)`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "limits": { "bodySize": "32kB" } }`,
      `${MAIN}:1:110: limits.bodySize: "32kB" is out of range (64kB to 1GB)`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "limits": { "idleTimeout": "11m" } }`,
      `${MAIN}:1:113: limits.idleTimeout: "11m" is out of range (1s to 10m)`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "limits": { "readTimeout": "500ms" } }`,
      `${MAIN}:1:113: limits.readTimeout: "500ms" is out of range (1s to 10m)`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "limits": { "authFailures": { "perAddress": -1 } } }`,
      `${MAIN}:1:130: limits.authFailures.perAddress: -1 is out of range (0 to 10000)`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "limits": { "authFailures": { "tableSize": 10 } } }`,
      `${MAIN}:1:129: limits.authFailures.tableSize: 10 is out of range (100 to 1000000)`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "limits": { "authFailures": { "lockout": "2h", "maxLockout": "1h" } } }`,
      `${MAIN}:1:147: limits.authFailures.maxLockout: must not be shorter than lockout`,
      "invalid",
    ],
    [
      `{ "mode": "server", ${listen}, "limits": { "authFailures": { "max": 5 } } }`,
      `${MAIN}:1:116: limits.authFailures.max: unknown key`,
      "unknown-key",
    ],
    [
      `{ "mode": "server", ${listen}, "headers_size": "64kB" }`,
      `${MAIN}:1:86: headers_size: unknown key`,
      "unknown-key",
    ],
    [
      `{ "mode": "server", ${listen}, "limits": { "body_size": "1MB" } }`,
      `${MAIN}:1:98: limits.body_size: unknown key (did you mean "bodySize"?)`,
      "unknown-key",
    ],
    [
      `{ "mode": "server", ${listen}, "domain": "x" }`,
      `${MAIN}:1:86: domain: unknown key (did you mean "domains"?)`,
      "unknown-key",
    ],
    [
      '{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "selfSigned": true, }, }',
      `${MAIN}:1:86: Syntax error: value expected`,
      "syntax",
    ],
  ];
  for (const [text, message, code] of cases) {
    assertConfigError(() => parseServerConfig(MAIN, text), message, code);
  }
});

Deno.test("parseServerConfig() takes listeners on one port that are different sockets", () => {
  // Each pair binds on Linux (checked with Deno.listen): an IPv4 wildcard leaves
  // the IPv6 addresses free, and two specific addresses are two sockets.
  for (
    const pair of [
      ["0.0.0.0:443", "[::1]:443"],
      ["[2001:db8::5]:443", "0.0.0.0:443"],
      ["127.0.0.1:443", "[::1]:443"],
      ["127.0.0.1:443", "127.0.0.2:443"],
    ]
  ) {
    const listen = parseServerConfig(
      MAIN,
      `{ "mode": "server", "listen": [{ "address": "${pair[0]}", "plain": true }, { "address": "${
        pair[1]
      }", "plain": true }] }`,
    ).listen;
    assert.equal(listen.length, 2, pair.join(" beside "));
  }
});

Deno.test("parseServerConfig() with checkFiles requires certificate files to exist", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/cert.pem`, "x");
    const text = `{
  "mode": "server",
  "listen": [{ "address": "0.0.0.0:443", "cert": "cert.pem", "key": "key.pem" }],
}`;
    const file = `${dir}/server.jsonc`;
    assert.equal(parseServerConfig(file, text).listen.length, 1, "not checked by default");
    assertConfigError(
      () => parseServerConfig(file, text, { checkFiles: true }),
      `${file}:3:69: listen[0].key: file "${dir}/key.pem" does not exist`,
      "io",
    );
    await Deno.writeTextFile(`${dir}/key.pem`, "x");
    await Deno.writeTextFile(file, text);
    const config = await loadServerConfig(file, { checkFiles: true });
    assert.deepEqual(config.listen[0]?.tls, { cert: `${dir}/cert.pem`, key: `${dir}/key.pem` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadServerConfig() reports a missing file as an io ConfigError", async () => {
  await assert.rejects(() => loadServerConfig("/nonexistent/server.jsonc"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.code, "io");
    assert.equal(
      e.message,
      "/nonexistent/server.jsonc: Cannot read file: No such file or directory",
    );
    return true;
  });
});

Deno.test("parseServerConfig() reads regex certificate rules and a listener's own list", () => {
  const config = parseServerConfig(
    MAIN,
    `{
    "mode": "server",
    "listen": [
      { "address": "0.0.0.0:443", "sni": true },
      { "address": "0.0.0.0:8443", "certificates": [{ "pattern": "*", "cert": "b.pem", "key": "b.key" }] },
    ],
    "certificates": [
      { "regex": "^api\\\\.Example\\\\.com$", "cert": "a.pem", "key": "a.key" },
      { "pattern": "*", "cert": "c.pem", "key": "c.key" },
    ],
  }`,
  );
  const [regexRule, fallback] = config.certificates;
  assert.equal(regexRule?.regex?.test("API.example.com"), true);
  assert.equal(regexRule?.regex?.test("apixexample.com"), false);
  assert.equal(regexRule?.pattern, "^api\\.Example\\.com$");
  assert.equal(regexRule?.cert, "/etc/burrow/a.pem");
  assert.deepEqual(fallback, { pattern: "*", cert: "/etc/burrow/c.pem", key: "/etc/burrow/c.key" });
  assert.deepEqual(config.listen[1]?.tls, [
    { pattern: "*", cert: "/etc/burrow/b.pem", key: "/etc/burrow/b.key" },
  ]);
});

Deno.test("parseServerDomain() names the domain after the file and fills defaults", () => {
  const domain = parseServerDomain("/etc/burrow/server.d/WWW.Example.COM.jsonc", "{}");
  assert.equal(domain.name, "www.example.com");
  assert.equal(domain.file, "/etc/burrow/server.d/WWW.Example.COM.jsonc");
  assert.equal(domain.active, false);
  assert.equal(domain.secret, "");
  assert.equal(domain.concurrency, 20);
  assert.equal(domain.bodySize, 8 * 1024 * 1024);
  assert.equal(domain.transactionId, true);
  assert.equal(domain.trustedForwarders, null);
  assert.equal(domain.agentNetworks, null);
  assert.deepEqual(domain.clients, {
    networks: null,
    ranges: [],
    credentials: [],
    realm: "burrow",
  });
  const inherited = parseServerDomain(DOMAIN, "{}", {
    bodySize: 1024 * 1024,
    transactionId: false,
  });
  assert.equal(inherited.bodySize, 1024 * 1024);
  assert.equal(inherited.transactionId, false);
});

Deno.test("parseServerDomain() reads every key", () => {
  const hash =
    "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
  const domain = parseServerDomain(
    DOMAIN,
    `{
    "active": true,
    "secret": "${hash}",
    "concurrency": 100,
    "bodySize": "64kB",
    "transactionId": false,
    "trustedForwarders": ["10.0.0.0/8"],
    "agentNetworks": ["190.27.3.0/24", "2001:db8::/32"],
    "clients": {
      "networks": ["174.17.24.0/24", "4.3.2.1"],
      "ranges": ["2019-10-01-2019-10-31 tue-fri 08:00-19:00", "2020-01-01 sat- 13:00-17:00"],
      "credentials": ["user1:password1", "user2:${hash}", "user3:a:b"],
      "realm": "www.example.com realm",
    },
  }`,
  );
  assert.equal(domain.active, true);
  assert.equal(domain.secret, hash);
  assert.equal(domain.concurrency, 100);
  assert.equal(domain.bodySize, 64 * 1024);
  assert.equal(domain.transactionId, false);
  assert.equal(domain.trustedForwarders?.contains("10.1.1.1"), true);
  assert.equal(domain.agentNetworks?.contains("190.27.3.9"), true);
  assert.equal(domain.agentNetworks?.contains("2001:db8::9"), true);
  assert.equal(domain.agentNetworks?.contains("190.27.4.9"), false);
  assert.equal(domain.clients.networks?.contains("4.3.2.1"), true);
  assert.equal(domain.clients.ranges.length, 2);
  assert.equal(domain.clients.ranges[1]?.weekdays, 0b1100000);
  assert.deepEqual(domain.clients.credentials, [
    { user: "user1", password: "password1" },
    { user: "user2", password: hash },
    { user: "user3", password: "a:b" },
  ]);
  assert.equal(domain.clients.realm, "www.example.com realm");
});

Deno.test("parseServerDomain() rejects mistakes with file:line:col and key", () => {
  const cases: [string, string, string][] = [
    [
      '{ "concurrency": 0 }',
      `${DOMAIN}:1:18: concurrency: 0 is out of range (1 to 10000)`,
      "invalid",
    ],
    [
      '{ "concurrency": 10001 }',
      `${DOMAIN}:1:18: concurrency: 10001 is out of range (1 to 10000)`,
      "invalid",
    ],
    [
      '{ "secret": "$6$salt$short" }',
      `${DOMAIN}:1:13: secret: starts with $6$ but is not a valid SHA-512 crypt hash`,
      "invalid",
    ],
    ['{ "secret": 42 }', `${DOMAIN}:1:13: secret: expected a string, got 42`, "type"],
    [
      '{ "agentNetworks": ["10.0.0.0/8", "10.0.0.300/8"] }',
      `${DOMAIN}:1:35: agentNetworks[1]: "10.0.0.300/8" is not a valid CIDR`,
      "invalid",
    ],
    [
      '{ "clients": {\n  "networks": ["10.0.0.0/8", "bad"] } }',
      `${DOMAIN}:2:30: clients.networks[1]: "bad" is not a valid CIDR`,
      "invalid",
    ],
    [
      '{ "clients": { "ranges": ["mon-xyz"] } }',
      `${DOMAIN}:1:27: clients.ranges[0]: Invalid time range "mon-xyz": "mon-xyz" is not a date, weekday or time range`,
      "invalid",
    ],
    [
      '{ "clients": { "credentials": ["nopassword"] } }',
      `${DOMAIN}:1:32: clients.credentials[0]: "nopassword" is not "user:password"`,
      "invalid",
    ],
    [
      '{ "clients": { "credentials": [":pw"] } }',
      `${DOMAIN}:1:32: clients.credentials[0]: ":pw" is not "user:password"`,
      "invalid",
    ],
    [
      '{ "clients": { "credentials": ["u:$6$x"] } }',
      `${DOMAIN}:1:32: clients.credentials[0]: starts with $6$ but is not a valid SHA-512 crypt hash`,
      "invalid",
    ],
    [
      '{ "clients": { "realm": "a\\"b" } }',
      `${DOMAIN}:1:25: clients.realm: "a\\"b" is not a realm without quotes, backslashes or control characters`,
      "invalid",
    ],
    [
      '{ "clients": { "banner": "x" } }',
      `${DOMAIN}:1:16: clients.banner: unknown key`,
      "unknown-key",
    ],
    ['{ "networks": ["10.0.0.0/8"] }', `${DOMAIN}:1:3: networks: unknown key`, "unknown-key"],
    [
      '{ "activ": true }',
      `${DOMAIN}:1:3: activ: unknown key (did you mean "active"?)`,
      "unknown-key",
    ],
    [
      '{ "bodySize": "2GB" }',
      `${DOMAIN}:1:15: bodySize: "2GB" is out of range (64kB to 1GB)`,
      "invalid",
    ],
  ];
  for (const [text, message, code] of cases) {
    assertConfigError(() => parseServerDomain(DOMAIN, text), message, code);
  }
});

Deno.test("parseServerDomain() refuses a file name that is not a domain", () => {
  for (const file of ["/x/bad_name.jsonc", "/x/-a.jsonc", "/x/.jsonc", "/x/a..b.jsonc"]) {
    assertConfigError(
      () => parseServerDomain(file, "{}"),
      `${file}: File name must be a domain name followed by ".jsonc", like "www.example.com.jsonc"`,
      "invalid",
    );
  }
});
