import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError } from "../shared/config/jsonc.ts";
import { operatorUrl, resolveOperatorSettings, SettingsError } from "./settings.ts";

/** Runs `body` in a temporary folder holding `files`; removes it afterwards. */
async function withFiles(
  files: Record<string, string>,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-operator-settings-" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(join(dir, name), text);
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** An environment with only `vars` (no HOME: no default config file). */
function envOf(vars: Record<string, string>) {
  return { env: (name: string) => vars[name] };
}

async function rejects(
  promise: Promise<unknown>,
  match: RegExp,
  type: new (...args: never[]) => Error = SettingsError,
) {
  await assert.rejects(promise, (e: Error) => {
    assert.ok(e instanceof type, `${e.name}: ${e.message}`);
    assert.match(e.message, match);
    return true;
  });
}

Deno.test("operatorUrl() turns https into wss, adds the operator path when there is none", () => {
  assert.equal(
    operatorUrl("https://t.example.com", "x").href,
    "wss://t.example.com/.well-known/burrow-operator",
  );
  assert.equal(
    operatorUrl("http://127.0.0.1:8080/", "x").href,
    "ws://127.0.0.1:8080/.well-known/burrow-operator",
  );
  assert.equal(operatorUrl("wss://[::1]:8443/ops", "x").href, "wss://[::1]:8443/ops");
  assert.equal(
    operatorUrl("t.example.com:8443", "x").href,
    "wss://t.example.com:8443/.well-known/burrow-operator",
  );
  assert.throws(() => operatorUrl("ftp://x", "--server"), /--server: "ftp:\/\/x" must be a wss:/);
  assert.throws(() => operatorUrl("https://u:p@x", "--server"), /credentials/);
  assert.throws(() => operatorUrl("wss://", "BURROW_SERVER"), /BURROW_SERVER: .* is not a URL/);
});

Deno.test("resolveOperatorSettings(): flags beat the environment, which beats the file", async () => {
  await withFiles({
    "flag.token": "flag-token\n",
    "env.token": "env-file-token",
    "file.token": "file-token",
    "op.jsonc": `{
      // comments allowed
      "server": "https://file.example",
      "tokenFile": "file.token",
      "caFile": "ca.pem",
      "insecure": true,
    }`,
  }, async (dir) => {
    const config = join(dir, "op.jsonc");
    const fromFile = await resolveOperatorSettings({ config }, envOf({}));
    assert.equal(fromFile.server.href, "wss://file.example/.well-known/burrow-operator");
    assert.equal(fromFile.token, "file-token");
    assert.equal(fromFile.caFile, join(dir, "ca.pem"));
    assert.equal(fromFile.insecure, true);

    const vars = {
      BURROW_SERVER: "wss://env.example/x",
      BURROW_TOKEN_FILE: join(dir, "env.token"),
      BURROW_CA_FILE: "/env/ca.pem",
      BURROW_INSECURE: "0",
      BURROW_CONFIG: config,
    };
    const fromEnv = await resolveOperatorSettings({}, envOf(vars));
    assert.deepEqual(
      { ...fromEnv, server: fromEnv.server.href },
      {
        server: "wss://env.example/x",
        token: "env-file-token",
        caFile: "/env/ca.pem",
        insecure: false,
      },
    );
    // BURROW_TOKEN (the value) comes before BURROW_TOKEN_FILE.
    const direct = await resolveOperatorSettings({}, envOf({ ...vars, BURROW_TOKEN: "tok" }));
    assert.equal(direct.token, "tok");

    const fromFlags = await resolveOperatorSettings({
      server: "https://flag.example:9443",
      "token-file": join(dir, "flag.token"),
      "ca-file": "/flag/ca.pem",
      insecure: true,
      config,
    }, envOf({ BURROW_TOKEN: "env-token", BURROW_SERVER: "wss://env.example" }));
    assert.equal(fromFlags.server.href, "wss://flag.example:9443/.well-known/burrow-operator");
    assert.equal(fromFlags.token, "flag-token");
    assert.equal(fromFlags.caFile, "/flag/ca.pem");
    assert.equal(fromFlags.insecure, true);
  });
});

Deno.test("resolveOperatorSettings() reads the default file under XDG_CONFIG_HOME when it exists", async () => {
  await withFiles({ "t": "tok" }, async (dir) => {
    await Deno.mkdir(join(dir, "burrow"));
    await Deno.writeTextFile(
      join(dir, "burrow", "operator.jsonc"),
      `{ "server": "wss://d.example", "tokenFile": "../t" }`,
    );
    const s = await resolveOperatorSettings({}, envOf({ XDG_CONFIG_HOME: dir }));
    assert.equal(s.server.host, "d.example");
    assert.equal(s.token, "tok");
  });
});

Deno.test("resolveOperatorSettings() says what is missing and where it can come from", async () => {
  await rejects(
    resolveOperatorSettings({}, envOf({ BURROW_TOKEN: "t" })),
    /^no server: pass --server, set BURROW_SERVER or add "server" to an operator config file$/,
  );
  await rejects(
    resolveOperatorSettings({}, envOf({ BURROW_SERVER: "wss://x", HOME: "/nowhere" })),
    /^no token: pass --token-file, set BURROW_TOKEN or BURROW_TOKEN_FILE, or add "tokenFile" to \/nowhere\/\.config\/burrow\/operator\.jsonc$/,
  );
  await rejects(
    resolveOperatorSettings({ "token-file": "/no/such/token" }, envOf({ BURROW_SERVER: "x.y" })),
    /^cannot read the token file \/no\/such\/token \(--token-file\): no such file$/,
  );
  await withFiles({ "empty": " \n" }, async (dir) => {
    await rejects(
      resolveOperatorSettings({ server: "x.y", "token-file": join(dir, "empty") }, envOf({})),
      /the token file .*empty \(--token-file\) is empty/,
    );
  });
  await rejects(
    resolveOperatorSettings(
      {},
      envOf({ BURROW_SERVER: "x", BURROW_TOKEN: "t", BURROW_INSECURE: "yes" }),
    ),
    /BURROW_INSECURE must be 1 or 0, got "yes"/,
  );
});

Deno.test("resolveOperatorSettings() reports config file mistakes at file:line:col", async () => {
  await withFiles({
    "typo.jsonc": `{\n  "server": "wss://x",\n  "tokenfile": "t"\n}`,
    "type.jsonc": `{\n  "insecure": "yes"\n}`,
    "url.jsonc": `{\n\n    "server": "ftp://x"\n}`,
    "syntax.jsonc": `{ "server": }`,
  }, async (dir) => {
    const at = (name: string) => resolveOperatorSettings({ config: join(dir, name) }, envOf({}));
    await rejects(
      at("typo.jsonc"),
      /typo\.jsonc:3:3: tokenfile: unknown key \(did you mean "tokenFile"\?\)/,
      ConfigError,
    );
    await rejects(
      at("type.jsonc"),
      /type\.jsonc:2:15: insecure: expected true or false/,
      ConfigError,
    );
    await rejects(
      at("url.jsonc"),
      /url\.jsonc:3:15: server: "ftp:\/\/x" must be a wss:/,
      ConfigError,
    );
    await rejects(at("syntax.jsonc"), /syntax\.jsonc:1:13: Syntax error/, ConfigError);
    await rejects(at("missing.jsonc"), /missing\.jsonc: Cannot read file/, ConfigError);
  });
});
