/**
 * The connection janitor end to end: silent, slow-head and idle keep-alive
 * clients are disconnected; downloads in progress and agents are not.
 */
import assert from "node:assert/strict";
import { World } from "./world.ts";
import { within } from "../helpers/streams.ts";
import { janitorSlack } from "../helpers/janitor_slack.ts";
import { AGENT_PATH, SUBPROTOCOL } from "../../shared/protocol.ts";
import { CLOSE_HANDSHAKE_GRACE_MS } from "../../server/agent_upgrade.ts";

const SECRET = "e2e-secret-0123456789";
const READ_TIMEOUT = 1000;
const IDLE_TIMEOUT = 2000;
/**
 * The janitor sweeps once a second (less often when the host has many sockets): it may
 * first see a connection a second late, and decide a second after the deadline;
 * {@link janitorSlack} adds what this host's TCP table spaces sweeps by (read when
 * asked: the table grows and shrinks with the suite).
 */
function slack(): number {
  return 4000 + janitorSlack();
}

/** Reads `conn` until the server ends it; the ms since `since`, and the text received. */
async function untilClosed(
  conn: Deno.TlsConn,
  since: number,
  stopAt?: string,
): Promise<{ ms: number; text: string }> {
  const buf = new Uint8Array(4096);
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (let n; (n = await conn.read(buf)) !== null;) {
      text += decoder.decode(buf.subarray(0, n));
      if (stopAt !== undefined && text.includes(stopAt)) break;
    }
  } catch {
    // A reset or a TLS stream cut without close_notify: closed all the same.
  }
  return { ms: performance.now() - since, text };
}

/** A TLS client of the world's server that sends `head` (maybe nothing) and then stalls. */
async function stalledClient(world: World, head: string): Promise<{ ms: number }> {
  const started = performance.now();
  using conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: world.port,
    caCerts: [world.caCert],
  });
  if (head !== "") await conn.write(new TextEncoder().encode(head));
  return await within(READ_TIMEOUT + slack() + 1000, "server to close", untilClosed(conn, started));
}

// The janitor reads Linux's /proc and calls libc; elsewhere the server runs without one.
Deno.test({
  name: "the janitor closes silent, slow and idle connections; downloads and agents stay",
  ignore: Deno.build.os !== "linux",
}, async (t) => {
  const world = await World.create({ limits: { readTimeout: "1s", idleTimeout: "2s" } });
  try {
    const backend = world.backend((req) => {
      if (new URL(req.url).pathname !== "/slow") return new Response("ok");
      let sent = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            await new Promise((r) => setTimeout(r, 250));
            if (sent++ < 14) controller.enqueue(new TextEncoder().encode(`${sent};`));
            else controller.close();
          },
        }),
      );
    });
    await world.domain("app.test", { active: true, secret: SECRET });
    await world.agent({
      domains: { "app.test": { secret: SECRET, targets: [{ target: backend.url }] } },
    });
    const agentSince = performance.now();
    const agentId = world.server.agents.pick("app.test")!.agent;

    await t.step("a client sending half a request head is cut after readTimeout", async () => {
      const { ms } = await stalledClient(world, "GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: ");
      assert.ok(ms >= READ_TIMEOUT && ms <= READ_TIMEOUT + slack(), `closed after ${ms} ms`);
    });

    await t.step("a client sending nothing is cut after readTimeout", async () => {
      const { ms } = await stalledClient(world, "");
      assert.ok(ms >= READ_TIMEOUT && ms <= READ_TIMEOUT + slack(), `closed after ${ms} ms`);
    });

    await t.step("a kept-alive connection is answered, then cut after idleTimeout", async () => {
      using conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: world.port,
        caCerts: [world.caCert],
      });
      await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"));
      const answer = await within(5000, "response", untilClosed(conn, 0, "\r\n\r\nok"));
      assert.match(answer.text, /^HTTP\/1\.1 200 /);
      const idle = performance.now();
      const { ms } = await within(IDLE_TIMEOUT + slack() + 1000, "close", untilClosed(conn, idle));
      assert.ok(ms >= IDLE_TIMEOUT - 50 && ms <= IDLE_TIMEOUT + slack(), `closed after ${ms} ms`);
    });

    await t.step("a slow download longer than idleTimeout is not cut", async () => {
      const started = performance.now();
      const res = await world.fetch("app.test", "/slow");
      assert.equal(res.status, 200);
      const body = await within(10_000, "slow body", res.text());
      assert.equal(body, Array.from({ length: 14 }, (_, i) => `${i + 1};`).join(""));
      assert.ok(performance.now() - started > IDLE_TIMEOUT + 1000);
    });

    await t.step("the agent's WebSocket outlives both timeouts and keeps serving", async () => {
      assert.ok(performance.now() - agentSince > READ_TIMEOUT + IDLE_TIMEOUT + 1000);
      assert.equal(world.server.agents.pick("app.test")?.agent, agentId, "agent reconnected");
      const res = await world.fetch("app.test", "/");
      assert.equal(await res.text(), "ok");
    });
  } finally {
    await world.close();
  }
});

Deno.test({
  name: "a client that upgrades on the agent path and ignores the close frame is cut after a grace",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const world = await World.create({
    limits: { readTimeout: "1s", idleTimeout: "2s" },
    agents: { registerTimeout: "300ms" },
  });
  try {
    const started = performance.now();
    using conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: world.port,
      caCerts: [world.caCert],
    });
    const head = [
      `GET ${AGENT_PATH} HTTP/1.1`,
      `Host: 127.0.0.1:${world.port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      `Sec-WebSocket-Protocol: ${SUBPROTOCOL}`,
      "",
      "",
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(head));
    // Upgraded, then silent: it never registers and never answers the server's close frame.
    // The session ends at registerTimeout; the connection goes once the close handshake's
    // grace is over, at the janitor's next sweep.
    const bound = 300 + CLOSE_HANDSHAKE_GRACE_MS + slack() + 2000;
    const { ms, text } = await within(
      bound,
      "server to cut the connection",
      untilClosed(conn, started),
    );
    assert.match(text, /^HTTP\/1\.1 101 /);
    assert.ok(ms >= CLOSE_HANDSHAKE_GRACE_MS, `cut after ${ms} ms, before the grace`);
  } finally {
    await world.close();
  }
});
