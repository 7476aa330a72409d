/**
 * One reading of a domains folder: the server and the agent start with the
 * same folders `burrow check` passes, load the same domains from them, and
 * refuse to start on the folders it fails. Each case is run against the real
 * entry points: `startServer`, `startAgent` with a watched folder, and
 * `checkCommand`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { parseServerConfig } from "../../server/config.ts";
import { startServer } from "../../server/server.ts";
import { parseAgentConfig } from "../../agent/config.ts";
import { startAgent } from "../../agent/agent.ts";
import { checkCommand } from "../../cli/check.ts";
import { ConfigError } from "../../shared/config/jsonc.ts";

const SERVER_DOMAIN = '{ "active": true, "secret": "parity-secret-0123" }';
const AGENT_DOMAIN = JSON.stringify({
  active: true,
  secret: "parity-secret-0123",
  remote: "127.0.0.1:1",
  targets: [{ target: "http://127.0.0.1:1" }],
});

/** A folder case: what to put in `d/` (or nothing: no folder), and the outcome. */
interface Case {
  name: string;
  /** Builds `d/` under `dir` (the folder may be left missing); `text` is a valid domain file. */
  build(dir: string, text: string): Promise<void>;
  /** The domains loaded, or null when all three must refuse. */
  expect: string[] | null;
}

const CASES: Case[] = [
  {
    name: "hidden and disabled files are ignored, even invalid ones",
    async build(dir, text) {
      await Deno.mkdir(join(dir, "d"));
      await Deno.writeTextFile(join(dir, "d", "a.test.jsonc"), text);
      await Deno.writeTextFile(join(dir, "d", ".hidden.test.jsonc"), "{ not jsonc");
      await Deno.writeTextFile(join(dir, "d", "_off.test.jsonc"), "{ not jsonc");
      await Deno.writeTextFile(join(dir, "d", ".#a.test.jsonc"), "editor lock");
      await Deno.writeTextFile(join(dir, "d", "notes.txt"), "not a domain");
    },
    expect: ["a.test"],
  },
  {
    name: "a symbolic link to a domain file is a domain file",
    async build(dir, text) {
      await Deno.mkdir(join(dir, "d"));
      await Deno.mkdir(join(dir, "store"));
      await Deno.writeTextFile(join(dir, "store", "real.jsonc"), text);
      await Deno.symlink(join(dir, "store", "real.jsonc"), join(dir, "d", "linked.test.jsonc"));
    },
    expect: ["linked.test"],
  },
  {
    name: "an empty folder starts with no domains",
    async build(dir) {
      await Deno.mkdir(join(dir, "d"));
    },
    expect: [],
  },
  {
    name: "a missing folder is refused",
    async build() {},
    expect: null,
  },
  {
    name: "an invalid domain file is refused",
    async build(dir, text) {
      await Deno.mkdir(join(dir, "d"));
      await Deno.writeTextFile(join(dir, "d", "a.test.jsonc"), text);
      await Deno.writeTextFile(join(dir, "d", "b.test.jsonc"), '{ "active": "yes" }');
    },
    expect: null,
  },
  {
    name: "two files for one domain are refused",
    async build(dir, text) {
      await Deno.mkdir(join(dir, "d"));
      await Deno.writeTextFile(join(dir, "d", "a.test.jsonc"), text);
      await Deno.writeTextFile(join(dir, "d", "A.test.jsonc"), text);
    },
    expect: null,
  },
  {
    name: "a dangling symbolic link is refused",
    async build(dir, text) {
      await Deno.mkdir(join(dir, "d"));
      await Deno.writeTextFile(join(dir, "d", "a.test.jsonc"), text);
      await Deno.symlink(join(dir, "gone.jsonc"), join(dir, "d", "gone.test.jsonc"));
    },
    expect: null,
  },
];

/** Runs `burrow check file` in this process, its output swallowed; resolves to the exit code. */
async function check(file: string): Promise<number> {
  const { log, error } = console;
  console.log = console.error = () => {};
  try {
    return await checkCommand([file]);
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** Server side: resolves to the domains loaded, or null when the start is refused. */
async function serverLoads(dir: string): Promise<string[] | null> {
  const file = join(dir, "server.jsonc");
  const config = parseServerConfig(file, await Deno.readTextFile(file));
  let server;
  try {
    server = await startServer(config, {
      system: getLogger(["burrow-test", "parity"]),
      access: () => {},
    });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return null;
  }
  try {
    const names = ["a.test", "linked.test", "off.test", "hidden.test"];
    return names.filter((n) => server.domains.get(n) !== undefined);
  } finally {
    await server.close();
  }
}

/** Agent side: resolves to the domains it serves, or null when the start is refused. */
async function agentLoads(dir: string): Promise<string[] | null> {
  const file = join(dir, "agent.jsonc");
  const config = parseAgentConfig(file, await Deno.readTextFile(file));
  let agent;
  try {
    agent = await startAgent(config, {
      domains: "watch",
      log: getLogger(["burrow-test", "parity"]),
      tuning: { backoffMin: 1000, backoffMax: 1000 },
    });
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return null;
  }
  try {
    return agent.status().map((s) => s.domain).sort();
  } finally {
    await agent.close();
  }
}

for (const c of CASES) {
  Deno.test(`domain folder: ${c.name}, alike for server, agent and burrow check`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "burrow-parity-" });
    try {
      await Deno.mkdir(join(dir, "server"));
      await Deno.mkdir(join(dir, "agent"));
      await c.build(join(dir, "server"), SERVER_DOMAIN);
      await c.build(join(dir, "agent"), AGENT_DOMAIN);
      const serverMain = join(dir, "server", "server.jsonc");
      await Deno.writeTextFile(
        serverMain,
        '{ "mode": "server", "listen": [{ "address": "127.0.0.1:0", "plain": true }], "domains": "d" }',
      );
      const agentMain = join(dir, "agent", "agent.jsonc");
      await Deno.writeTextFile(agentMain, '{ "mode": "agent", "domains": "d" }');

      const want = c.expect === null ? 1 : 0;
      assert.equal(await check(serverMain), want, "burrow check on the server folder");
      assert.equal(await check(agentMain), want, "burrow check on the agent folder");
      assert.deepEqual(await serverLoads(join(dir, "server")), c.expect, "server");
      assert.deepEqual(await agentLoads(join(dir, "agent")), c.expect, "agent");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
