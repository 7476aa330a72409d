/**
 * `burrow token` end to end: the real command line in a subprocess, its
 * output stored in an operator file that `burrow check` and the server's
 * loader accept, and the printed token found by its hash.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { burrow } from "../tests/helpers/burrow.ts";
import { hashToken } from "../shared/auth/token.ts";
import { AccessFolders } from "../server/access/access_folders.ts";

/** The token and hash of a `burrow token` run's stdout. */
function parseOutput(stdout: string): { token: string; hash: string } {
  const match = /^token: (\S+)\nhash: (\S+)\n$/.exec(stdout);
  assert.ok(match, `unexpected output: ${JSON.stringify(stdout)}`);
  return { token: match[1]!, hash: match[2]! };
}

Deno.test("burrow token prints a new token once and its hash; the server finds it by the hash", async () => {
  const run = await burrow(["token", "--name", "Alice"]);
  assert.equal(run.code, 0, run.stderr);
  const { token, hash } = parseOutput(run.stdout);
  assert.match(token, /^burrow_[A-Za-z0-9_-]{43}$/);
  assert.equal(hash, hashToken(token));
  assert.match(run.stderr, /shown only this once/);
  assert.match(run.stderr, /operators\.d\/alice\.jsonc/);

  const dir = await Deno.makeTempDir();
  try {
    const main = join(dir, "server.jsonc");
    await Deno.writeTextFile(
      main,
      JSON.stringify({
        mode: "server",
        listen: [{ address: "127.0.0.1:0", selfSigned: true }],
        operatorFiles: "operators.d",
      }),
    );
    await Deno.mkdir(join(dir, "server.d"));
    await Deno.mkdir(join(dir, "operators.d"));
    await Deno.writeTextFile(
      join(dir, "operators.d", "alice.jsonc"),
      `{\n  "token": "${hash}",\n  "agents": ["db1"],\n  "kinds": ["forward"],\n}\n`,
    );
    const check = await burrow(["check", main]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /^ok: .*operators\.d\/alice\.jsonc$/m);

    const access = new AccessFolders({
      file: main,
      agentFiles: null,
      operatorFiles: join(dir, "operators.d"),
    }, {
      log: getLogger(["burrow-test", "token"]),
    });
    await access.load();
    assert.equal((await access.operatorByToken(token))?.name, "alice");
    assert.equal(await access.operatorByToken(hash), undefined, "the hash is no token");
    await access.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("burrow token --json prints both as JSON; two runs never give the same token", async () => {
  const [a, b] = await Promise.all([burrow(["token", "--json"]), burrow(["token"])]);
  assert.equal(a.code, 0, a.stderr);
  const json = JSON.parse(a.stdout) as { token: string; hash: string };
  assert.equal(json.hash, hashToken(json.token));
  assert.notEqual(parseOutput(b.stdout).token, json.token);
});

Deno.test("burrow token refuses a bad --name and unknown options with usage (exit 2)", async () => {
  const bad = await burrow(["token", "--name", "not a name"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--name "not a name" is not a name of letters/);
  assert.equal(bad.stdout, "", "no token printed");
  const unknown = await burrow(["token", "--length", "8"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Usage: burrow token/);
});
