import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError } from "../shared/config/jsonc.ts";
import { parseAgentConfig } from "./config.ts";
import { readIdentitySecret } from "./identity_config.ts";

const MAIN = "/etc/burrow/agent.jsonc";
const hostname = () => "Build-Box-7";

Deno.test("the agent identity defaults its name to the host name and reads every key", () => {
  const minimal = parseAgentConfig(
    MAIN,
    '{ "mode": "agent", "secret": "s3cret", "remote": "tunnel.example.com:443" }',
    { hostname },
  );
  assert.deepEqual(minimal.identity, {
    name: "build-box-7",
    secret: "s3cret",
    secretFile: null,
    remote: "tunnel.example.com:443",
    service: "/.well-known/burrow-agent",
    insecure: false,
    caFile: null,
  });
  const full = parseAgentConfig(
    MAIN,
    `{
      "mode": "agent",
      "name": "DB1",
      "secretFile": "agent.secret",
      "remote": "[::1]:8443",
      "service": "/tunnel",
      "insecure": true,
      "caFile": "ca.pem",
    }`,
    { hostname },
  );
  assert.deepEqual(full.identity, {
    name: "db1",
    secret: null,
    secretFile: "/etc/burrow/agent.secret",
    remote: "[::1]:8443",
    service: "/tunnel",
    insecure: true,
    caFile: "/etc/burrow/ca.pem",
  });
});

Deno.test("the default name is the real Deno.hostname() when no hostname is given", () => {
  const config = parseAgentConfig(
    MAIN,
    '{ "mode": "agent", "secret": "s", "remote": "a.example:443", "name": null }',
  );
  assert.equal(config.identity?.name, Deno.hostname().toLowerCase());
});

Deno.test("agent identity mistakes name file:line:column and key", () => {
  const R = '"remote": "t.example:443"';
  // text, options, expected message
  const cases: [string, string][] = [
    ['{ "mode": "agent", "secret": "s" }', `${MAIN}:1:1: remote: is required`],
    [
      `{ "mode": "agent", "secret": "s", "secretFile": "f", ${R} }`,
      `${MAIN}:1:49: secretFile: cannot be used with "secret": set one of them`,
    ],
    [`{ "mode": "agent", "secret": "", ${R} }`, `${MAIN}:1:30: secret: must not be empty`],
    [
      `{ "mode": "agent", "secret": "$6$x$y", ${R} }`,
      `${MAIN}:1:30: secret: must be the secret itself: only the server's copy may be a $6$ hash`,
    ],
    [
      '{ "mode": "agent", "secret": "s", "remote": "t.example" }',
      `${MAIN}:1:45: remote: "t.example" is not a host:port address (like "0.0.0.0:443" or "[::1]:443")`,
    ],
    [
      `{ "mode": "agent", "secret": "s", ${R}, "name": "db 1" }`,
      `${MAIN}:1:70: name: "db 1" is not a name of letters, digits, '.', '-' and '_' starting and ending with a letter or digit`,
    ],
    [
      `{ "mode": "agent", "secret": "s", ${R}, "service": "tunnel" }`,
      `${MAIN}:1:73: service: "tunnel" is not a URL path starting with "/"`,
    ],
    [
      '{ "mode": "agent", "name": "db1" }',
      `${MAIN}:1:28: name: is used only with "secret", "secretFile" or "certFile"`,
    ],
    [
      `{ "mode": "agent", ${R} }`,
      `${MAIN}:1:30: remote: is used only with "secret", "secretFile" or "certFile"`,
    ],
    [
      `{ "mode": "agent", "secret": "s", ${R}, "secret_file": "x" }`,
      `${MAIN}:1:62: secret_file: unknown key (did you mean "secretFile"?)`,
    ],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseAgentConfig(MAIN, text, { hostname }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.message, expected);
      return true;
    });
  }
});

Deno.test('a host name that is not an agent name asks for "name"', () => {
  assert.throws(
    () =>
      parseAgentConfig(MAIN, '{ "mode": "agent", "secret": "s", "remote": "t.example:443" }', {
        hostname: () => "my laptop",
      }),
    new RegExp(
      `^ConfigError: ${MAIN}:1:1: name: the machine's host name "my laptop" is not a valid agent name: set "name"$`,
    ),
  );
});

Deno.test("readIdentitySecret() takes secret, or the first line of secretFile, checked", async () => {
  const dir = await Deno.makeTempDir();
  const identity = {
    name: "db1",
    secret: null,
    secretFile: join(dir, "agent.secret"),
    remote: "t.example:443",
    service: "/x",
    insecure: false,
    caFile: null,
  };
  try {
    assert.equal(await readIdentitySecret({ ...identity, secret: "inline" }), "inline");
    await Deno.writeTextFile(identity.secretFile, "from-file\r\nignored\n");
    assert.equal(await readIdentitySecret(identity), "from-file");
    // file contents, expected error
    const cases: [string | null, RegExp][] = [
      [null, /: Cannot read secret file: /],
      ["\n", /: Secret file is empty$/],
      ["$6$salt$hash\n", /: Secret file holds a \$6\$ hash: the agent needs the secret itself$/],
    ];
    for (const [text, expected] of cases) {
      if (text === null) await Deno.remove(identity.secretFile);
      else await Deno.writeTextFile(identity.secretFile, text);
      await assert.rejects(readIdentitySecret(identity), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, expected);
        assert.equal(e.file, identity.secretFile);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a certificate identity: certFile and keyFile instead of a secret, checked", () => {
  const R = '"remote": "t.example:8444"';
  const config = parseAgentConfig(
    MAIN,
    `{ "mode": "agent", "name": "db1", ${R}, "certFile": "db1.pem", "keyFile": "db1.key", "caFile": "ca.pem" }`,
    { hostname },
  );
  assert.deepEqual(config.identity, {
    name: "db1",
    secret: null,
    secretFile: null,
    remote: "t.example:8444",
    service: "/.well-known/burrow-agent",
    insecure: false,
    caFile: "/etc/burrow/ca.pem",
    certificate: { certFile: "/etc/burrow/db1.pem", keyFile: "/etc/burrow/db1.key" },
  });
  const cases: [string, RegExp][] = [
    [
      `{ "mode": "agent", ${R}, "certFile": "c.pem" }`,
      /:1:1: keyFile: is required with "certFile"$/,
    ],
    [
      `{ "mode": "agent", ${R}, "keyFile": "k.pem" }`,
      /:1:1: certFile: is required with "keyFile"$/,
    ],
    [
      `{ "mode": "agent", ${R}, "certFile": "c", "keyFile": "k", "secret": "s" }`,
      /:1:\d+: secret: cannot be used with "certFile": the certificate is the identity$/,
    ],
    [
      `{ "mode": "agent", ${R}, "certFile": "c", "keyFile": "k", "insecure": true }`,
      /:1:\d+: insecure: cannot be used with "certFile": the certificate is the identity$/,
    ],
    [`{ "mode": "agent", "certFile": "c", "keyFile": "k" }`, /:1:1: remote: is required$/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseAgentConfig(MAIN, text, { hostname }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, expected);
      return true;
    });
  }
});
