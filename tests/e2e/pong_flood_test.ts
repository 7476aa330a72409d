/**
 * Issue 9, item 1, end to end: a peer on the agent path that sends Ping
 * frames and never reads must not make the server queue a pong each without
 * limit. The server's session gives up once its bound is reached and drops
 * the connection; before, it read every ping and queued every answer.
 */
import assert from "node:assert/strict";
import { captureWarnings } from "../helpers/log_capture.ts";
import { World } from "./world.ts";
import { dialWebSocket } from "../../shared/transport/dial.ts";
import { encodeHeader, Flag, FrameType, HEADER_SIZE } from "../../shared/frame/header.ts";

/** Pings per write. */
const PER_WRITE = 4096;
/**
 * Pings after which the test gives up: 36 MB of them, far beyond what the
 * buffers on the way hold (socket buffers, the server's 4 MiB WebSocket
 * send queue, the client's 1 MiB receive queue: about 400,000 answers) plus
 * the session's own bound (a batch and 8192 frames).
 */
const MAX_PINGS = 3_000_000;

Deno.test("a ping flood on the agent path from a peer that never reads gets dropped", async () => {
  const log = await captureWarnings();
  const world = await World.create();
  try {
    const dialed = await dialWebSocket(`wss://127.0.0.1:${world.port}/.well-known/burrow-agent`, {
      protocols: ["burrow.v1"],
      caCerts: [world.caCert],
    });
    // The client's readable is never read: its socket stops being read at 1 MiB.
    const writer = dialed.conn.writable.getWriter();
    const chunk = new Uint8Array(PER_WRITE * HEADER_SIZE);
    let sent = 0;
    let dropped = false;
    while (sent < MAX_PINGS) {
      for (let i = 0; i < PER_WRITE; i++) {
        const opaque = sent + i;
        encodeHeader(chunk, i * HEADER_SIZE, {
          type: FrameType.Ping,
          flags: Flag.SYN,
          streamId: 0,
          length: opaque,
        });
      }
      try {
        await writer.write(chunk);
      } catch {
        dropped = true;
        break;
      }
      sent += PER_WRITE;
    }
    await writer.abort().catch(() => {});
    await dialed.conn.readable.cancel().catch(() => {});
    assert.ok(dropped, `the server was still reading after ${sent} pings`);
    // The server serves on: a request for an unknown domain gets its answer.
    const res = await world.fetch("nobody.test", "/");
    await res.body?.cancel();
    assert.ok(res.status >= 400, `status ${res.status}`);
  } finally {
    await world.close();
    await log.stop();
  }
  // Once the server has closed (its sessions' tasks are done): the abuse is said once, at
  // WARN, with the peer's address.
  const abuse = log.messages().filter((m) => m.includes("closed for abuse"));
  assert.equal(abuse.length, 1, `abuse warnings: ${abuse.length}`);
  assert.match(abuse[0]!, /from 127\.0\.0\.1 .*does not read/);
});
