/**
 * End-to-end tests of `burrow check`: each case runs `main.ts` in a Deno
 * subprocess against the shipped samples or files written to a temp folder.
 *
 * @module
 */

import assert from "node:assert/strict";
import { burrow, ROOT, type Run } from "../tests/helpers/burrow.ts";
import { verifySecret } from "../shared/auth/secret.ts";
import { parseServerDomain } from "../server/config.ts";
import { parseAgentFile } from "../server/access/agent_file.ts";
import { parseAgentConfig } from "../agent/config.ts";
import { makeCertificates } from "../shared/tls/self_signed.ts";

/** Runs `burrow check ...args` in `cwd` (default: the project root). */
function check(args: string[], cwd = ROOT): Promise<Run> {
  return burrow(["check", ...args], cwd);
}

/** Writes `files` (path → text) under a new temp folder and runs `body` in it. */
async function withFiles(
  files: Record<string, string>,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [path, text] of Object.entries(files)) {
      const full = `${dir}/${path}`;
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
      await Deno.writeTextFile(full, text);
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SERVER =
  '{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "selfSigned": true }] }';

Deno.test("burrow check passes every shipped sample and its domain files", async () => {
  const run = await check([
    "conf/server.jsonc",
    "conf/agent.jsonc",
    "conf/server.full.jsonc",
    "conf/agent.full.jsonc",
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "");
  assert.deepEqual(run.stdout.trim().split("\n"), [
    "ok: conf/server.jsonc",
    "ok: conf/server.d/localhost.jsonc",
    "ok: conf/agent.jsonc",
    "ok: conf/agent.d/localhost.jsonc",
    "ok: conf/server.full.jsonc",
    "ok: conf/server.full.d/www.example.com.jsonc",
    "ok: conf/agents.full.d/db1.jsonc",
    "ok: conf/operators.full.d/alice.jsonc",
    "ok: conf/agent.full.jsonc",
    "ok: conf/agent.full.d/www.example.com.jsonc",
  ]);
});

Deno.test("burrow check --strict reports the placeholder files of the full samples", async () => {
  const run = await check(["--strict", "conf/server.full.jsonc", "conf/agent.full.jsonc"]);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^conf\/server\.full\.jsonc:\d+:\d+: listen\[0\]\.cert: file "\/etc\/burrow\/tls\/cert\.pem" does not exist$/m,
  );
  assert.match(
    run.stderr,
    /^conf\/agent\.full\.jsonc:\d+:\d+: caFile: file ".*private-ca\.pem" does not exist$/m,
  );
});

Deno.test("burrow check --strict passes the minimal samples, which name no files", async () => {
  const run = await check(["--strict", "conf/server.jsonc", "conf/agent.jsonc"]);
  assert.equal(run.code, 0, run.stderr);
});

Deno.test("the full server sample's hashes are those of the plain texts its comments give", () => {
  const text = Deno.readTextFileSync(`${ROOT}conf/server.full.d/www.example.com.jsonc`);
  const domain = parseServerDomain("www.example.com.jsonc", text);
  assert.equal(verifySecret("super-secret", domain.secret), true);
  const user2 = domain.clients.credentials.find((c) => c.user === "user2");
  assert.equal(verifySecret("password2", user2?.password ?? ""), true);
});

Deno.test("the full agent identity samples match: the server's hash is of the agent's secret", () => {
  const server = parseAgentFile(
    `${ROOT}conf/agents.full.d/db1.jsonc`,
    Deno.readTextFileSync(`${ROOT}conf/agents.full.d/db1.jsonc`),
  );
  const agent = parseAgentConfig(
    `${ROOT}conf/agent.full.jsonc`,
    Deno.readTextFileSync(`${ROOT}conf/agent.full.jsonc`),
  );
  assert.equal(agent.identity?.name, server.name);
  assert.equal(verifySecret(agent.identity?.secret ?? "", server.secret ?? ""), true);
});

Deno.test("burrow check reads a server's agents and operators folders like its domains", async () => {
  const main = `{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "selfSigned": true }],
  "agentFiles": "agents.d",
  "operatorFiles": "ops.d" }`;
  await withFiles({
    "server.jsonc": main,
    "server.d/a.example.jsonc": "{}",
    "agents.d/db1.jsonc": '{ "secret": "s" }',
    "agents.d/db2.jsonc": '{\n  "secret": "s",\n  "groups": ["no way"]\n}',
    "agents.d/_off.jsonc": "not json",
    "alone/operators.d/bob.jsonc": '{ "token": "burrow_plain" }',
    "alone/x.jsonc": '{ "token": "sha256:00" }',
  }, async (dir) => {
    const run = await check(["server.jsonc", "alone/operators.d/bob.jsonc", "alone/x.jsonc"], dir);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      "ok: server.jsonc",
      "ok: server.d/a.example.jsonc",
      "ok: agents.d/db1.jsonc",
    ]);
    assert.deepEqual(run.stderr.trim().split("\n"), [
      'agents.d/db2.jsonc:3:14: groups[0]: "no way" is not a group: expected a name of letters, ' +
      "digits, '.', '-' and '_' starting and ending with a letter or digit",
      `server.jsonc:3:20: operatorFiles: folder "${dir}/ops.d" does not exist`,
      "alone/operators.d/bob.jsonc:1:12: token: must be a hash, not the token itself: " +
      `"sha256:…" from 'burrow token', or "$6$…"`,
      'alone/x.jsonc:1:12: token: starts with "sha256:" but is not 64 lower-case hex digits after it',
    ]);
  });
});

Deno.test("burrow check prints each invalid file's error and exits 1", async () => {
  await withFiles({
    "server.jsonc": SERVER,
    "server.d/good.example.jsonc": '{ "active": true, "secret": "s" }',
    "server.d/bad.example.jsonc": '{\n  "clients": { "networks": ["10.0.0.300/8"] }\n}',
    "server.d/typo.example.jsonc": '{ "activ": true }',
    "server.d/notes.txt": "ignored",
    "agent.jsonc": '{ "mode": "agent", "connectTimeout": "0s" }',
  }, async (dir) => {
    const run = await check(["server.jsonc", "agent.jsonc"], dir);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      "ok: server.jsonc",
      "ok: server.d/good.example.jsonc",
    ]);
    assert.deepEqual(run.stderr.trim().split("\n"), [
      'server.d/bad.example.jsonc:2:29: clients.networks[0]: "10.0.0.300/8" is not a valid CIDR',
      'server.d/typo.example.jsonc:1:3: activ: unknown key (did you mean "active"?)',
      'agent.jsonc:1:38: connectTimeout: "0s" is out of range (1s to 10m)',
    ]);
  });
});

Deno.test("burrow check reports a missing file, a missing domains folder and a bad mode", async () => {
  await withFiles({
    "agent.jsonc": '{ "mode": "agent", "domains": "nowhere" }',
    "odd.jsonc": '{ "mode": "relay" }',
    "syntax.jsonc": '{ "mode": "agent",, }',
  }, async (dir) => {
    const run = await check(["missing.jsonc", "agent.jsonc", "odd.jsonc", "syntax.jsonc"], dir);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "ok: agent.jsonc\n");
    const realDir = Deno.realPathSync(dir);
    assert.deepEqual(run.stderr.trim().split("\n"), [
      "missing.jsonc: Cannot read file: No such file or directory",
      `agent.jsonc:1:31: domains: folder "${realDir}/nowhere" does not exist`,
      'odd.jsonc:1:11: mode: "relay" is not one of "server", "agent"',
      "syntax.jsonc:1:19: Syntax error: property name expected",
    ]);
  });
});

Deno.test("burrow check reports a dataDir that is a file or cannot be made", async () => {
  const server = (dataDir: string) =>
    `{ "mode": "server", "listen": [{ "address": "127.0.0.1:8443", "selfSigned": true }],\n` +
    `  "domains": "d", "dataDir": ${JSON.stringify(dataDir)} }`;
  await withFiles({
    "file.txt": "not a folder",
    "d/.keep": "",
    "a.jsonc": server("file.txt"),
    "b.jsonc": server("file.txt/data"),
    "c.jsonc": server("new/data"),
  }, async (dir) => {
    const run = await check(["a.jsonc", "b.jsonc", "c.jsonc"], dir);
    assert.equal(run.code, 1);
    const realDir = Deno.realPathSync(dir);
    assert.deepEqual(run.stderr.trim().split("\n"), [
      `a.jsonc:2:30: dataDir: folder "${realDir}/file.txt" exists and is not a folder`,
      `b.jsonc:2:30: dataDir: folder "${realDir}/file.txt/data" cannot be made: ` +
      `"${realDir}/file.txt" is not a folder`,
    ]);
    assert.match(run.stdout, /ok: c\.jsonc\n/, "a missing folder that can be made is fine");
    assert.equal(await Deno.stat(`${dir}/new`).catch(() => null), null, "check makes nothing");
  });
});

Deno.test("burrow check validates a domain file given on its own, as a server's or an agent's", async () => {
  await withFiles({
    "server.d/app.test.jsonc": '{ "active": true, "secret": "s3cret-s3cret" }',
    "agent.d/app.test.jsonc":
      '{ "active": true, "secret": "s3cret-s3cret", "targets": [{ "target": "http://127.0.0.1:8080" }] }',
    "agent.d/bad.test.jsonc": '{ "targets": [{ "target": "ftp://127.0.0.1" }] }',
    "server.d/bad.test.jsonc": '{ "concurrency": -1 }',
  }, async (dir) => {
    const run = await check([
      "server.d/app.test.jsonc",
      "agent.d/app.test.jsonc",
      "agent.d/bad.test.jsonc",
      "server.d/bad.test.jsonc",
    ], dir);
    assert.equal(run.code, 1);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      "ok: server.d/app.test.jsonc (server domain file)",
      "ok: agent.d/app.test.jsonc (agent domain file)",
    ]);
    const errors = run.stderr.trim().split("\n");
    assert.equal(errors.length, 2, run.stderr);
    assert.match(errors[0]!, /^agent\.d\/bad\.test\.jsonc:1:\d+: targets\[0\]\.target: /);
    assert.match(errors[1]!, /^server\.d\/bad\.test\.jsonc:1:\d+: concurrency: /);
  });
});

Deno.test("burrow check without files is a usage error", async () => {
  const run = await check([]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /No config file given/);
  assert.match(run.stderr, /Usage: burrow check/);
  const help = await check(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--strict/);
});

Deno.test("burrow check --strict parses the agentCertificates files and matches the key", async () => {
  const a = await makeCertificates({ hostnames: ["127.0.0.1"] });
  const b = await makeCertificates({ hostnames: ["127.0.0.1"] });
  const main = `{ "mode": "server",
  "listen": [{ "address": "127.0.0.1:8443", "cert": "cert.pem", "key": "key.pem" }],
  "agentCertificates": { "listen": "127.0.0.1:8444", "ca": "ca.pem" } }`;
  await withFiles({
    "server.jsonc": main,
    "server.d/a.example.jsonc": "{}",
    "ca.pem": a.caCert,
    "cert.pem": a.cert,
    "key.pem": b.key,
  }, async (dir) => {
    const mismatch = await check(["--strict", "server.jsonc"], dir);
    assert.equal(mismatch.code, 1, mismatch.stdout);
    assert.equal(
      mismatch.stderr.trim(),
      `${dir}/key.pem: the private key does not match the certificate in ${dir}/cert.pem`,
    );
    // Without --strict the files are not read.
    assert.equal((await check(["server.jsonc"], dir)).code, 0);
    await Deno.writeTextFile(`${dir}/key.pem`, a.key);
    const good = await check(["--strict", "server.jsonc"], dir);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^ok: server\.jsonc$/m);
  });
});

Deno.test("burrow check says a disabled file given on its own is skipped, and why", async () => {
  await withFiles({
    "server.d/_old.example.com.jsonc": "{}",
    "agents.d/.db9.jsonc": '{ "secret": "s" }',
  }, async (dir) => {
    const run = await check(["server.d/_old.example.com.jsonc", "agents.d/.db9.jsonc"], dir);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split("\n"), [
      'skipped: server.d/_old.example.com.jsonc (disabled: files whose name starts with "_" or ' +
      '"." are not read; rename it to old.example.com.jsonc to use it)',
      'skipped: agents.d/.db9.jsonc (disabled: files whose name starts with "_" or "." are not ' +
      "read; rename it to db9.jsonc to use it)",
    ]);
  });
});
