/**
 * A published port end to end: a client on the server's published port, the
 * server's directory of identified agents, an agent connected over wss with
 * its own identity, the agent's forward handlers and allowlist, a target.
 *
 * @module
 */

import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { World } from "./world.ts";
import { randomBytes, sha256, within } from "../helpers/streams.ts";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { connectTo, readToEnd, writeFull } from "../publish/helpers.ts";
import { ForwardError, openTcpForward } from "../../shared/forward/mod.ts";
import type { AgentDirectory, OpenChannel } from "../../server/agent_directory.ts";
import { parseServerConfig } from "../../server/config.ts";
import { startPublishing } from "../../server/publish/mod.ts";

/** Opens channels through the server's identified agents (the server's own audit aside). */
function directoryChannels(directory: AgentDirectory, onEnd: (end: string) => void): OpenChannel {
  return async (request) => {
    const agent = directory.get(request.agent);
    if (agent === undefined) {
      return {
        ok: false,
        code: "agent-offline",
        message: `agent ${request.agent} is not connected`,
      };
    }
    try {
      const forward = await openTcpForward(agent.session, request.host, request.port);
      return {
        ok: true,
        stream: forward.stream,
        target: forward.target,
        end: (result, bytes) => onEnd(`${result} ${bytes.up} ${bytes.down}`),
      };
    } catch (e) {
      if (e instanceof ForwardError) return { ok: false, code: e.code, message: e.message };
      throw e;
    }
  };
}

Deno.test("a published port reaches a target through an agent connected with its identity", async () => {
  await using target = tcpTarget(echo);
  const world = await World.create();
  const secret = "db1-secret-for-the-published-port-test";
  const ended = Promise.withResolvers<string>();
  const config = parseServerConfig(
    `${world.dir}/server.jsonc`,
    JSON.stringify({
      mode: "server",
      listen: [{ address: "127.0.0.1:0", plain: true }],
      publish: [
        { listen: "127.0.0.1:0", agent: "db1", target: `127.0.0.1:${target.port}` },
        // Outside the agent's default allowlist (its own loopback only).
        { listen: "127.0.0.2:0", agent: "db1", target: "192.0.2.1:22" },
        { listen: "127.0.0.3:0", agent: "db2", target: `127.0.0.1:${target.port}` },
      ],
    }),
  );
  const publishing = await startPublishing(config, {
    openChannel: directoryChannels(world.server.directory, ended.resolve),
    log: getLogger(["burrow-test", "publish"]),
  });
  try {
    await world.agentFile("db1", { secret });
    await world.agent({ identity: { name: "db1", secret } });
    assert.ok(world.server.directory.get("db1") !== undefined);
    const addr = (key: string) => publishing.ports.get(key)!.addr;

    const conn = await connectTo(addr("127.0.0.1:0"));
    const data = randomBytes(4 * 1024 * 1024);
    const [, back] = await Promise.all([
      writeFull(conn, data).then(() => conn.closeWrite()),
      within(30_000, "echo through the agent", readToEnd(conn)),
    ]);
    conn.close();
    assert.equal(sha256(back!), sha256(data));

    // Refused by the agent's policy, and an agent that is not connected: closed at once.
    for (const key of ["127.0.0.2:0", "127.0.0.3:0"]) {
      const refused = await connectTo(addr(key));
      const got = await within(10_000, `${key} closed`, readToEnd(refused));
      assert.ok(got === null || got.length === 0, key);
      refused.close();
      assert.equal(publishing.ports.get(key)?.stats.failed, 1, key);
    }
    assert.equal(
      await within(10_000, "channel end", ended.promise),
      `ok ${data.length} ${data.length}`,
    );
  } finally {
    await publishing.close();
    await world.close();
  }
});
