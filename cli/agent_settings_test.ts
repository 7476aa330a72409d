import assert from "node:assert/strict";
import { join } from "node:path";
import { NO_CONFIG_FILE } from "../agent/launch_settings.ts";
import { ConfigError } from "../shared/config/jsonc.ts";
import { loadAgentLaunch } from "./agent_settings.ts";
import { UsageError } from "./usage.ts";

const IDENTITY = { server: "wss://t.example.com", name: "db1" };

/** Runs `body` with a scratch folder holding `secret` (a secret file) and `agent.jsonc` when given. */
async function withDir(
  body: (dir: string) => Promise<void>,
  agentFile?: Record<string, unknown>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "secret"), "s3cret-value\n");
    if (agentFile) await Deno.writeTextFile(join(dir, "agent.jsonc"), JSON.stringify(agentFile));
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const options = { env: {}, usage: "Usage: burrow agent", prompt: null };

Deno.test("loadAgentLaunch: flags and no file at the default location need no file", async () => {
  await withDir(async (dir) => {
    const choice = { file: join(dir, "agent.jsonc"), explicit: false };
    const flags = { ...IDENTITY, "secret-file": join(dir, "secret") };
    const launch = await loadAgentLaunch(choice, flags, options);
    assert.equal(launch.config.file, NO_CONFIG_FILE);
    assert.equal(launch.config.identity?.name, "db1");
    // Named, it must exist.
    await assert.rejects(
      loadAgentLaunch({ ...choice, explicit: true }, flags, options),
      (e) => e instanceof ConfigError && /Cannot read file/.test(e.message),
    );
    // Nothing given and nothing there: says where it looked and how to start without a file.
    await assert.rejects(
      loadAgentLaunch(choice, {}, options),
      (e) => e instanceof ConfigError && /No config file at this default location/.test(e.message),
    );
  });
});

Deno.test("loadAgentLaunch: a file at the default location is read, and flags go over it", async () => {
  await withDir(async (dir) => {
    const choice = { file: join(dir, "agent.jsonc"), explicit: false };
    const launch = await loadAgentLaunch(choice, { name: "db2" }, {
      ...options,
      env: { BURROW_SERVER: "wss://env.example.com" },
    });
    assert.equal(launch.config.file, join(dir, "agent.jsonc"));
    assert.equal(launch.config.identity?.name, "db2");
    assert.equal(launch.config.identity?.remote, "env.example.com:443");
    assert.equal(launch.config.identity?.secretFile, join(dir, "secret"));
    // No flags, no variables: the file as it is.
    const plain = await loadAgentLaunch(choice, {}, options);
    assert.equal(plain.config.identity?.name, "from-file");
    assert.equal(plain.sources.size, 0);
  }, { mode: "agent", name: "from-file", secretFile: "secret", remote: "file.example.com:443" });
});

Deno.test("loadAgentLaunch: a flag at fault is a usage error, a variable at fault a config error naming it", async () => {
  await withDir(async (dir) => {
    const choice = { file: join(dir, "agent.jsonc"), explicit: false };
    const flags = { ...IDENTITY, "secret-file": join(dir, "secret") };
    await assert.rejects(
      loadAgentLaunch(choice, { ...flags, "ca-file": join(dir, "nope.pem") }, options),
      (e) => e instanceof UsageError && /^--ca-file: Cannot read ".*nope\.pem"/.test(e.message),
    );
    await assert.rejects(
      loadAgentLaunch(choice, flags, { ...options, env: { BURROW_CA_FILE: "nope.pem" } }),
      (e) => e instanceof ConfigError && e.message.startsWith('BURROW_CA_FILE: Cannot read "nope'),
    );
    await assert.rejects(
      loadAgentLaunch(choice, { name: "db1" }, {
        ...options,
        env: { BURROW_SERVER: "ws://t", BURROW_SECRET: "x" },
      }),
      (e) =>
        e instanceof ConfigError &&
        /^BURROW_SERVER: "ws:\/\/t" must start with wss/.test(e.message),
    );
  });
});
