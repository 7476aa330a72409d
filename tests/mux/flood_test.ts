/**
 * A peer that asks for answers and never reads them (issue 9, item 1): the
 * session keeps what it queues for that peer under a bound and closes with
 * "peer-not-draining". Over an in-memory pair, loopback TCP, and loopback
 * wss with a client that stops reading its socket (as an attacker's would).
 */
import assert from "node:assert/strict";
import { encodeFrames, type RawFrame } from "../helpers/raw_peer.ts";
import { CONN_TYPES, type ConnPair, withConnTypes } from "../helpers/conn_types.ts";
import { FrameDecoder } from "../../shared/frame/decoder.ts";
import { makeCertificates } from "../../shared/tls/self_signed.ts";
import { Flag, FrameType, GoAwayCode } from "../../shared/frame/header.ts";
import { MuxError, Session } from "../../shared/mux/mod.ts";
import type { Conn } from "../../shared/transport/conn.ts";
import { fromWebSocket } from "../../shared/transport/websocket.ts";
import { DenoSocket } from "../../shared/transport/deno_socket.ts";
import { connectWebSocket } from "../../shared/platform/ws_client.ts";

/** Control frames the session under test may hold beyond its batch. */
const MAX_QUEUED_CONTROL = 1024;
/** The most the session may queue: a batch (default 128 KiB + 64) + 4 KiB slack + held frames + GoAway. */
const BOUND = 128 * 1024 + 64 + 4096 + 12 * MAX_QUEUED_CONTROL + 12;
/** Frames the flooding peer sends per write. */
const PER_WRITE = 4096;
/**
 * Frames the peer sends before the test gives up: far more than the socket
 * buffers on the way (a few MB of 12-byte answers) plus the bound.
 */
const MAX_FRAMES = 3_000_000;

interface Flood {
  /** Frames the peer sent before the session closed. */
  sent: number;
  /** Most `queuedBytes` seen after any of the peer's writes. */
  peak: number;
}

/**
 * Writes `frames(i)` batches to the session's peer end `conn` (never reading
 * it) until the session closes or MAX_FRAMES were sent.
 */
async function flood(
  conn: Conn,
  session: Session,
  frames: (first: number, n: number) => RawFrame[],
): Promise<Flood> {
  const writer = conn.writable.getWriter();
  let sent = 0;
  let peak = 0;
  try {
    while (!session.isClosed && sent < MAX_FRAMES) {
      await writer.write(encodeFrames(frames(sent, PER_WRITE)));
      sent += PER_WRITE;
      peak = Math.max(peak, session.queuedBytes);
    }
  } catch {
    // The session dropped the transport under the write: it closed.
  }
  writer.releaseLock();
  return { sent, peak };
}

function pings(first: number, n: number): RawFrame[] {
  return Array.from({ length: n }, (_, i) => ({
    type: FrameType.Ping,
    flags: Flag.SYN,
    length: (first + i) >>> 0,
  }));
}

/** Asserts the session closed as "peer-not-draining" having queued no more than BOUND. */
async function assertClosedNotDraining(session: Session, result: Flood): Promise<void> {
  assert.ok(
    session.isClosed,
    `session still open after ${result.sent} frames, ${session.queuedBytes} bytes queued`,
  );
  await session.closed;
  const reason = session.closeReason;
  assert.ok(reason instanceof MuxError, `expected a MuxError, got ${reason}`);
  assert.equal(reason.code, "peer-not-draining");
  assert.ok(result.peak <= BOUND, `queued ${result.peak} bytes, bound ${BOUND}`);
}

function floodedSession(conn: Conn, options: { foldFlags?: boolean } = {}): Session {
  return new Session(conn, {
    ...options,
    client: false,
    enableKeepAlive: false,
    maxQueuedControl: MAX_QUEUED_CONTROL,
    closeTimeout: 500,
  });
}

withConnTypes("a ping flood from a peer that never reads closes the session", async (pair) => {
  const session = floodedSession(pair.b);
  const result = await flood(pair.a, session, pings);
  await assertClosedNotDraining(session, result);
}, { except: ["wss"] }); // the browser-style WebSocket client reads everything; see below

Deno.test("a ping flood from a wss peer that stops reading closes the session", async () => {
  const pair = await stallingWssPair();
  try {
    const session = floodedSession(pair.b);
    const result = await flood(pair.a, session, pings);
    await assertClosedNotDraining(session, result);
  } finally {
    await pair.close();
  }
});

for (const foldFlags of [false, true]) {
  withConnTypes(
    `opening and resetting streams without reading closes the session${
      foldFlags ? " (foldFlags)" : ""
    }`,
    async (pair) => {
      const session = floodedSession(pair.b, { foldFlags });
      // The application accepts every stream it can (each accept owes the peer an ACK).
      const accepting = (async () => {
        while (await session.accept() !== null) { /* dropped: the peer resets it */ }
      })();
      // Each write opens a block of streams and resets the block opened by the write before.
      const half = PER_WRITE / 2;
      const result = await flood(pair.a, session, (first, n) => {
        const frames: RawFrame[] = [];
        for (let i = 0; i < n / 2; i++) {
          frames.push({
            type: FrameType.WindowUpdate,
            flags: Flag.SYN,
            streamId: 2 * (first + i) + 1,
          });
        }
        for (let i = 0; i < n / 2 && first > 0; i++) {
          const streamId = 2 * (first - half + i) + 1;
          frames.push({ type: FrameType.WindowUpdate, flags: Flag.RST, streamId });
        }
        return frames;
      });
      await assertClosedNotDraining(session, result);
      await accepting;
    },
    { except: ["wss"] },
  );
}

withConnTypes("a SYN flood beyond the backlog without reading closes the session", async (pair) => {
  const session = floodedSession(pair.b);
  // Nobody accepts: after the backlog, every SYN is refused with an RST.
  const result = await flood(pair.a, session, (first, n) =>
    Array.from({ length: n }, (_, i) => ({
      type: FrameType.WindowUpdate,
      flags: Flag.SYN,
      streamId: 2 * (first + i) + 1,
    })));
  await assertClosedNotDraining(session, result);
}, { except: ["wss"] });

withConnTypes("pings sent while the peer does not read are all answered once it does", async (
  pair: ConnPair,
) => {
  const session = floodedSession(pair.b);
  try {
    // Fewer than the bound: a slow reader is not an abuser.
    const n = 500;
    const writer = pair.a.writable.getWriter();
    for (let i = 0; i < n; i++) {
      await writer.write(encodeFrames([{ type: FrameType.Ping, flags: Flag.SYN, length: i }]));
    }
    writer.releaseLock();
    const answers: number[] = [];
    const reader = pair.a.readable.getReader();
    const decoder = new FrameDecoder(1 << 30);
    while (answers.length < n) {
      const { value, done } = await reader.read();
      assert.ok(!done, `transport ended after ${answers.length} answers`);
      for (const f of decoder.decode(value)) {
        if (f.type === FrameType.Ping && f.flags === Flag.ACK) answers.push(f.length);
      }
    }
    await reader.cancel();
    assert.deepEqual(answers, Array.from({ length: n }, (_, i) => i));
    assert.equal(session.isClosed, false);
  } finally {
    await session.close();
  }
});

Deno.test("the session sends GoAway(protocol error) when it closes a flooding peer", async () => {
  const pair = await CONN_TYPES[0]!.make(); // in memory: the peer can read all of it afterwards
  const session = floodedSession(pair.b);
  const result = await flood(pair.a, session, pings);
  const decoder = new FrameDecoder(1 << 30);
  let goAway = -1;
  for await (const chunk of pair.a.readable) {
    for (const f of decoder.decode(chunk)) if (f.type === FrameType.GoAway) goAway = f.length;
  }
  await assertClosedNotDraining(session, result);
  assert.equal(goAway, GoAwayCode.ProtocolError);
  await pair.close();
});

/**
 * A wss pair whose client end (`a`) is Burrow's own WebSocket client: when
 * nobody reads `a.readable`, it stops reading its socket, so the server end
 * (`b`, `Deno.upgradeWebSocket` as the server uses it) fills up.
 */
async function stallingWssPair(): Promise<ConnPair> {
  const { caCert, cert, key } = await makeCertificates({ hostnames: ["localhost"] });
  const upgraded = Promise.withResolvers<WebSocket>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, cert, key, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "burrow.v1" });
    upgraded.resolve(socket);
    return response;
  });
  const url = new URL(`wss://localhost:${server.addr.port}/`);
  const tls = await Deno.connectTls({
    hostname: "localhost",
    port: server.addr.port,
    caCerts: [caCert],
  });
  const client = await connectWebSocket(new DenoSocket(tls), url, { protocols: ["burrow.v1"] });
  const accepted = await upgraded.promise;
  const b = await fromWebSocket(accepted);
  return {
    name: "wss",
    a: client.conn,
    b,
    async close() {
      client.close();
      accepted.close();
      await client.closed;
      await server.shutdown();
    },
  };
}
