/**
 * The server loads its `agentFiles` and `operatorFiles` folders at start with the
 * domains folder's rules: an invalid file or a missing named folder refuses
 * the start, valid files are in force and followed while it runs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { parseServerConfig } from "../../server/config.ts";
import { startServer } from "../../server/server.ts";
import { generateToken, hashToken } from "../../shared/auth/token.ts";
import { ConfigError } from "../../shared/config/jsonc.ts";

const logging = { system: getLogger(["burrow-test", "server"]), access: () => {} };

/** A server folder: main file text for `extra` keys, server.d, and `files` (path → text). */
async function serverDir(
  extra: Record<string, unknown>,
  files: Record<string, string>,
): Promise<{ dir: string; main: string; text: string }> {
  const dir = await Deno.makeTempDir();
  const text = JSON.stringify({
    mode: "server",
    listen: [{ address: "127.0.0.1:0", selfSigned: true }],
    ...extra,
  });
  await Deno.mkdir(join(dir, "server.d"));
  for (const [path, body] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), body);
  }
  return { dir, main: join(dir, "server.jsonc"), text };
}

Deno.test("the server starts with its agents and operators folders loaded", async () => {
  const token = generateToken();
  const { dir, main, text } = await serverDir({
    agentFiles: "agents.d",
    operatorFiles: "operators.d",
  }, {
    "agents.d/db1.jsonc": '{ "secret": "s", "groups": ["ops"] }',
    "operators.d/alice.jsonc": JSON.stringify({ token: hashToken(token), kinds: ["admin"] }),
  });
  const server = await startServer(parseServerConfig(main, text), logging);
  try {
    assert.deepEqual(server.access.agent("db1")?.groups, ["ops"]);
    assert.equal((await server.access.operatorByToken(token))?.name, "alice");
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an invalid agent file or a missing operators folder refuses the server's start", async () => {
  const bad = await serverDir({ agentFiles: "agents.d" }, {
    "agents.d/db1.jsonc": '{\n  "secret": ""\n}',
  });
  const missing = await serverDir({ operatorFiles: "nope.d" }, {});
  try {
    await assert.rejects(
      startServer(parseServerConfig(bad.main, bad.text), logging),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(
          e.message,
          `${join(bad.dir, "agents.d", "db1.jsonc")}:2:13: secret: must not be empty`,
        );
        return true;
      },
    );
    await assert.rejects(
      startServer(parseServerConfig(missing.main, missing.text), logging),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /Operator folder does not exist \(the "operatorFiles" folder of /);
        return true;
      },
    );
  } finally {
    await Deno.remove(bad.dir, { recursive: true });
    await Deno.remove(missing.dir, { recursive: true });
  }
});
