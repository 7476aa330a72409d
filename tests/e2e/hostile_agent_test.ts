/**
 * A registered agent that misbehaves must cost the server nothing: bad
 * response heads become 502s, nothing lingers, the server keeps serving.
 */
import assert from "node:assert/strict";
import { until, World } from "./world.ts";
import { dialWebSocket } from "../../shared/transport/dial.ts";
import { Session } from "../../shared/mux/mod.ts";
import {
  encodeReply,
  OPEN_VERSION,
  OpenError,
  openStream,
  readOpen,
  StreamKind,
} from "../../shared/open/mod.ts";

const SECRET = "hostile-secret-0123456789";
/** The server's write timeout here (the shortest allowed). */
const WRITE_TIMEOUT_MS = 1000;

Deno.test("an agent answering with a malformed response head yields 502 and leaves no stream open", async () => {
  const world = await World.create({ limits: { writeTimeout: "1s" } });
  const dialed = await dialWebSocket(`wss://127.0.0.1:${world.port}/.well-known/burrow-agent`, {
    protocols: ["burrow.v1"],
    caCerts: [world.caCert],
  });
  const session = new Session(dialed.conn, { client: true });
  const serving: Promise<void>[] = [];
  try {
    await world.domain("app.test", { active: true, secret: SECRET });
    const control = await openStream(session, {
      kind: StreamKind.Control,
      params: {
        domain: "app.test",
        secret: SECRET,
        agent: { id: "evil", version: "0", host: "x" },
      },
    });
    await until("registration", () => world.server.agents.has("app.test"));
    // Bad heads, one per request: a status that is not one, a header name
    // without a value, a head that is not UTF-8, a JSON head (open version 1's).
    const replies: [Uint8Array, RegExp][] = [
      [encodeReply({ ok: true, text: "two hundred\n" }), /status code/],
      [encodeReply({ ok: true, text: "200\n\nx-a" }), /without value/],
      [new Uint8Array([OPEN_VERSION, 0, 0, 0, 0, 2, 0x32, 0xff]), /UTF-8/],
      [encodeReply({ ok: true, data: { status: 200, headers: [] } }), /subprotocol/],
      // A header value Deno refuses to send, with a streamed body (no length)
      // and with a small one: one 502 and one access line each.
      [encodeReply({ ok: true, text: "200\n\nx-bad\na\u0000b" }), /invalid|header/i],
      [
        encodeReply({ ok: true, text: "200\n\nx-bad\na\u0000b\ncontent-length\n0" }),
        /invalid|header/i,
      ],
    ];
    const loop = (async () => {
      for (let s = await session.accept(); s !== null; s = await session.accept()) {
        const stream = s;
        serving.push(
          (async () => {
            // The target is /x<i>: request i gets bad head i.
            const { text } = await readOpen(stream, { maxBody: 1 << 20 });
            const reply = replies[Number(text.split("\n")[2]!.slice(2))]![0];
            await stream.write(reply);
            stream.closeWrite();
          })().catch(() => {}),
        );
      }
    })();
    for (let i = 0; i < replies.length; i++) {
      const res = await world.fetch("app.test", `/x${i}`);
      assert.equal(res.status, 502);
      await res.body?.cancel();
      assert.match(world.lastAccess("app.test")!.reason!, replies[i]![1]);
    }
    await until("streams to be released", () => world.server.agents.openStreams() === 0);
    // Past the write timeout nothing more is logged: one line per request.
    await new Promise((r) => setTimeout(r, WRITE_TIMEOUT_MS + 200));
    assert.equal(world.access.filter((e) => e.domain === "app.test").length, replies.length);
    // A kind the server does not serve is refused, not crashed on.
    await assert.rejects(openStream(session, { kind: StreamKind.Http, params: {} }), (e) => {
      assert.ok(e instanceof OpenError);
      assert.equal(e.remoteCode, "unknown-kind");
      return true;
    });
    await control.writable.close();
    await session.close();
    await loop;
    await Promise.all(serving);
  } finally {
    await session.close();
    dialed.close();
    await dialed.closed;
    await world.close();
  }
});
