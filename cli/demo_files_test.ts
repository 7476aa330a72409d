/** The demo's files: made fresh, or kept and reused so a restarted demo's printed lines keep working. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { keptDemoDir, prepareDemoFiles } from "./demo_files.ts";
import { hashToken } from "../shared/auth/token.ts";

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-demo-files-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const read = (dir: string, ...path: string[]) => Deno.readTextFile(join(dir, ...path));

Deno.test("prepareDemoFiles with keep reuses the CA, certificate, secrets and token in the folder", async () => {
  await withDir(async (dir) => {
    const first = await prepareDemoFiles(dir, { keep: true });
    const ca = await read(dir, "ca.pem");
    const second = await prepareDemoFiles(dir, { keep: true });
    assert.deepEqual(second, first);
    assert.equal(await read(dir, "ca.pem"), ca);
    assert.equal(await read(dir, "operator.token"), `${first.token}\n`);
    const operator = JSON.parse(await read(dir, "operators.d", "demo.jsonc"));
    assert.equal(operator.token, hashToken(first.token));
    const agent = JSON.parse(await read(dir, "agents.d", "demo.jsonc"));
    assert.equal(agent.secret, first.agentSecret);
    const domain = JSON.parse(await read(dir, "server.d", "localhost.jsonc"));
    assert.equal(domain.secret, first.secret);
  });
});

Deno.test("prepareDemoFiles without keep, or with a damaged or expiring kept state, makes new ones", async () => {
  await withDir(async (dir) => {
    const first = await prepareDemoFiles(dir, { keep: true });
    const ca = await read(dir, "ca.pem");
    const fresh = await prepareDemoFiles(dir, { keep: false });
    assert.notEqual(fresh.token, first.token);
    assert.notEqual(await read(dir, "ca.pem"), ca);

    await Deno.writeTextFile(join(dir, "demo.json"), "{not json");
    const afterDamage = await prepareDemoFiles(dir, { keep: true });
    assert.notEqual(afterDamage.token, fresh.token);

    const expiring = { ...afterDamage, notAfter: new Date(Date.now() + 3600_000).toISOString() };
    await Deno.writeTextFile(join(dir, "demo.json"), JSON.stringify(expiring));
    const renewed = await prepareDemoFiles(dir, { keep: true });
    assert.notEqual(renewed.token, afterDamage.token);
    assert.ok(Date.parse(renewed.notAfter) > Date.now() + 300 * 24 * 3600_000);

    await Deno.remove(join(dir, "key.pem"));
    const rekeyed = await prepareDemoFiles(dir, { keep: true });
    assert.notEqual(rekeyed.token, renewed.token, "a missing key means a new state");
  });
});

Deno.test("keptDemoDir makes the folder owner-only and refuses a file", async () => {
  await withDir(async (dir) => {
    const kept = await keptDemoDir(join(dir, "a", "b"));
    assert.ok((await Deno.stat(kept)).isDirectory);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(kept)).mode! & 0o777, 0o700);
    }
    await Deno.chmod(kept, 0o755);
    await keptDemoDir(kept);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(kept)).mode! & 0o777, 0o700, "made owner-only again");
    }
    await Deno.writeTextFile(join(dir, "file"), "x");
    await assert.rejects(keptDemoDir(join(dir, "file")));
  });
});
