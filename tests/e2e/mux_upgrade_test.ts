/**
 * The server upgrades mux links (agents, operators) without Deno's WebSocket
 * idle timeout: the mux pings on its own, and the idle timeout cancelled
 * and created a timer for every message the server received.
 */
import assert from "node:assert/strict";
import { World } from "./world.ts";

Deno.test("an agent's WebSocket is upgraded with no idle timeout of Deno's (the mux keepalive watches the link)", async () => {
  const original = Deno.upgradeWebSocket;
  const options: (Deno.UpgradeWebSocketOptions | undefined)[] = [];
  Deno.upgradeWebSocket = (req, opts) => {
    options.push(opts);
    return original(req, opts);
  };
  try {
    const world = await World.create();
    try {
      const secret = "mux-upgrade-secret-0123456789";
      await world.agentFile("db1", { secret });
      await world.agent({ identity: { name: "db1", secret } });
      assert.ok(options.length >= 1);
      for (const o of options) assert.equal(o?.idleTimeout, 0);
    } finally {
      await world.close();
    }
  } finally {
    Deno.upgradeWebSocket = original;
  }
});
