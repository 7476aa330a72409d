/**
 * The agent path is public: a flood of upgrades that offer another protocol
 * version must not write a log line each (each was a WARN line before).
 */
import assert from "node:assert/strict";
import { captureWarnings } from "../helpers/log_capture.ts";
import { World } from "./world.ts";
import { DialError, dialWebSocket } from "../../shared/transport/dial.ts";

/** Upgrades sent with a subprotocol the server does not speak. */
const ATTEMPTS = 30;

Deno.test("a flood of agent upgrades with a wrong subprotocol is logged once per window, not per attempt", async () => {
  const log = await captureWarnings();
  const world = await World.create();
  try {
    for (let i = 0; i < ATTEMPTS; i++) {
      await assert.rejects(
        dialWebSocket(`wss://127.0.0.1:${world.port}/.well-known/burrow-agent`, {
          protocols: ["burrow.v0"],
          caCerts: [world.caCert],
        }),
        (e: unknown) => e instanceof DialError && e.status === 426,
      );
    }
  } finally {
    await world.close();
    await log.stop();
  }
  const lines = log.messages();
  const refusals = lines.filter((l) => l.includes("offered subprotocol burrow.v0"));
  assert.equal(refusals.length, 1, `warnings: ${lines.join(" | ")}`);
  assert.match(refusals[0]!, /Agent at 127\.0\.0\.1 refused/);
});

Deno.test("an agent upgrade without a WebSocket key gets 400, not a server error", async () => {
  const world = await World.create();
  try {
    const res = await world.fetch("127.0.0.1", "/.well-known/burrow-agent", {
      headers: {
        upgrade: "websocket",
        connection: "Upgrade",
        "sec-websocket-protocol": "burrow.v1",
      },
    });
    assert.equal(res.status, 400);
    await res.body?.cancel();
    assert.equal(world.server.agents.size, 0);
  } finally {
    await world.close();
  }
});
