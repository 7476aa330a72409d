/**
 * The one-line start, with real processes: `main.ts agent` started from
 * flags and environment only (no config file) against a real server,
 * identifying, serving a domain end to end, honouring flags over
 * environment over file; a secret flag refused; `check --agent` masking
 * the secret.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { until, World } from "./world.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN = join(ROOT, "main.ts");
const SECRET = "db1-one-line-secret";
const DOMAIN_SECRET = "app-one-line-secret";

/**
 * The environment of a child: this one's without BURROW_* variables, plus
 * `env`; `BURROW_DEV=1` and a scratch working directory keep any file at the
 * default location out of it.
 */
function childEnv(env: Record<string, string>): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("BURROW_")),
  );
  return { ...base, BURROW_DEV: "1", ...env };
}

/** Starts `main.ts <args>` in `dir` with `env`; stdout and stderr piped. */
function burrow(dir: string, args: string[], env: Record<string, string> = {}) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--config", join(ROOT, "deno.json"), MAIN, ...args],
    cwd: dir,
    env: childEnv(env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * Runs an agent child until `ready` resolves, then stops it (SIGTERM),
 * expects exit 0, and resolves to its output (stdout and stderr).
 */
async function runAgentUntil(
  dir: string,
  args: string[],
  env: Record<string, string>,
  ready: () => Promise<void>,
): Promise<string> {
  const child = burrow(dir, ["agent", ...args], env).spawn();
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  const early = child.status.then(async (status) => {
    exited = true;
    throw new Error(`The agent exited early (${status.code}): ${await stderr}`);
  });
  try {
    await Promise.race([ready(), early]);
  } finally {
    if (!exited) child.kill("SIGTERM");
    const status = await child.status;
    early.catch(() => {});
    // Windows has no SIGTERM: Deno ends the process there (TerminateProcess), with no clean stop.
    if (Deno.build.os !== "windows") assert.equal(status.code, 0, await stderr);
  }
  return `${await stdout}${await stderr}`;
}

/** Writes the identity secret file and the server's agent file for db1. */
async function identityWorld(): Promise<{ world: World; secretFile: string }> {
  const world = await World.create();
  await world.agentFile("db1", { secret: SECRET });
  const secretFile = join(world.dir, "db1.secret");
  await Deno.writeTextFile(secretFile, `${SECRET}\n`);
  return { world, secretFile };
}

Deno.test("burrow agent --server --name --secret-file identifies with no config file", async () => {
  const { world, secretFile } = await identityWorld();
  try {
    const args = [
      "--server",
      `wss://127.0.0.1:${world.port}`,
      "--name",
      "db1",
      "--secret-file",
      secretFile,
      "--ca-file",
      world.caFile,
    ];
    await runAgentUntil(
      world.dir,
      args,
      {},
      () => until("db1 identified", () => world.server.directory.get("db1") !== undefined, 20_000),
    );
  } finally {
    await world.close();
  }
});

Deno.test("burrow agent --insecure connects without a CA file and says so loudly", async () => {
  const { world, secretFile } = await identityWorld();
  try {
    const args = ["--server", `127.0.0.1:${world.port}`, "--name", "db1", "--insecure"];
    const output = await runAgentUntil(
      world.dir,
      args,
      { BURROW_SECRET_FILE: secretFile },
      () => until("db1 identified", () => world.server.directory.get("db1") !== undefined, 20_000),
    );
    assert.match(output, /INSECURE: identity db1 connects to 127\.0\.0\.1:\d+ WITHOUT checking/);
  } finally {
    await world.close();
  }
});

Deno.test("burrow agent started from BURROW_* variables alone identifies", async () => {
  const { world } = await identityWorld();
  try {
    const env = {
      BURROW_SERVER: `wss://127.0.0.1:${world.port}/.well-known/burrow-agent`,
      BURROW_NAME: "db1",
      BURROW_SECRET: SECRET,
      BURROW_CA_FILE: world.caFile,
    };
    await runAgentUntil(
      world.dir,
      [],
      env,
      () => until("db1 identified", () => world.server.directory.get("db1") !== undefined, 20_000),
    );
  } finally {
    await world.close();
  }
});

Deno.test("burrow agent --name wins over BURROW_NAME, which wins over the config file", async () => {
  const { world, secretFile } = await identityWorld();
  try {
    const file = join(world.dir, "agent.jsonc");
    await Deno.writeTextFile(
      file,
      JSON.stringify({ mode: "agent", name: "from-file", secretFile, remote: "127.0.0.1:1" }),
    );
    const env = { BURROW_NAME: "from-env", BURROW_SERVER: `wss://127.0.0.1:${world.port}` };
    const args = ["--config", file, "--name", "db1", "--ca-file", world.caFile];
    await runAgentUntil(world.dir, args, env, async () => {
      await until("db1 identified", () => world.server.directory.get("db1") !== undefined, 20_000);
      assert.deepEqual(world.server.directory.list().map((a) => a.name), ["db1"]);
    });
  } finally {
    await world.close();
  }
});

Deno.test("burrow agent --domain --target --secret-file serves a request end to end", async () => {
  const world = await World.create();
  try {
    await world.domain("app.test", { active: true, secret: DOMAIN_SECRET });
    const backend = world.backend((req) => new Response(`hello from ${new URL(req.url).pathname}`));
    const secretFile = join(world.dir, "app.secret");
    await Deno.writeTextFile(secretFile, DOMAIN_SECRET);
    const args = [
      "--server",
      `wss://127.0.0.1:${world.port}`,
      "--domain",
      "app.test",
      "--secret-file",
      secretFile,
      "--target",
      backend.url,
      "--ca-file",
      world.caFile,
    ];
    let body = "";
    await runAgentUntil(world.dir, args, {}, async () => {
      const start = performance.now();
      // The server answers 404 until the agent registered the domain.
      while (performance.now() - start < 20_000) {
        const response = await world.fetch("app.test", "/path");
        body = await response.text();
        if (response.status === 200) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`app.test never served: last answer ${JSON.stringify(body)}`);
    });
    assert.equal(body, "hello from /path");
  } finally {
    await world.close();
  }
});

Deno.test("burrow agent refuses --secret with a usage error naming the safe ways", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await burrow(dir, ["agent", "--server", "wss://t.example", "--secret=hunter22"])
      .output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, /never taken from a command-line flag \(--secret would show in 'ps'\)/);
    assert.match(stderr, /--secret-file FILE/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("burrow agent without a secret and no terminal says which settings give one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await burrow(dir, ["agent", "--server", "wss://t.example", "--name", "db1"])
      .output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, stderr);
    assert.match(stderr, /agent db1 needs a secret: give --secret-file FILE, BURROW_SECRET_FILE/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("burrow check --agent shows the merged settings with their sources, secrets masked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const secretFile = join(dir, "db1.secret");
    await Deno.writeTextFile(secretFile, SECRET);
    const args = [
      "check",
      "--agent",
      "--name",
      "db1",
      "--secret-file",
      secretFile,
      "--domain",
      "app.example.com",
      "--target",
      "http://127.0.0.1:3000",
    ];
    const env = { BURROW_SERVER: "wss://tunnel.example.com", BURROW_DOMAIN_SECRET: "app-secret-x" };
    const out = await burrow(dir, args, env).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.ok(!stdout.includes(SECRET) && !stdout.includes("app-secret-x"), stdout);
    assert.match(stdout, /config file: none \(no file at conf\/agent\.jsonc\)/);
    assert.match(stdout, /identity\.name: db1 {2}\[--name\]/);
    assert.match(
      stdout,
      /identity\.secret: \*{8} \(first line of .*db1\.secret\) {2}\[--secret-file\]/,
    );
    const server = "wss://tunnel.example.com:443/.well-known/burrow-agent  [BURROW_SERVER]";
    assert.ok(stdout.includes(`identity.server: ${server}`), stdout);
    assert.ok(stdout.includes(`domain.server: ${server}`), stdout);
    assert.match(stdout, /domain\.secret: \*{8} {2}\[BURROW_DOMAIN_SECRET\]/);
    assert.match(stdout, /domain\.targets: http:\/\/127\.0\.0\.1:3000\/ {2}\[--target\]/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
