/**
 * The WebSocket client against a scripted server on raw loopback TCP, which
 * sends exactly the bytes a test needs: fragments, pings, text, close codes,
 * broken handshakes. Each client test runs over both socket kinds: Deno's
 * and Node's.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import type { ByteSocket } from "../transport/byte_socket.ts";
import { DenoSocket } from "../transport/deno_socket.ts";
import { NodeSocket } from "../transport/node_socket.ts";
import { connectWebSocket, DialError, type WebSocketClientOptions } from "./ws_client.ts";
import { dialWebSocket } from "../transport/dial.ts";
import {
  CloseCode,
  decodeClosePayload,
  encodeClosePayload,
  encodeFrame,
  Opcode,
  type WsFrame,
} from "./ws_frame.ts";
import { WsFrameDecoder } from "./ws_frame_decode.ts";
import { within } from "../../tests/helpers/streams.ts";

const PROTOCOL = "burrow.v1";
const text = (s: string) => new TextEncoder().encode(s);

/** The server end of one connection: reads the request, answers, and speaks frames. */
class RawPeer {
  readonly conn: Deno.Conn;
  request = "";
  #buffer: Uint8Array = new Uint8Array(0);
  #frames: WsFrame[] = [];
  #decoder = new WsFrameDecoder({ maxPayload: 1 << 26, masked: true });
  /** Every byte after the request head, as received (frames still masked). */
  raw: Uint8Array[] = [];

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Reads the upgrade request head; returns its Sec-WebSocket-Key. */
  async readRequest(): Promise<string> {
    while (!new TextDecoder().decode(this.#buffer).includes("\r\n\r\n")) {
      const chunk = await this.#read();
      if (!chunk) throw new Error("EOF before the request head ended");
      this.#buffer = join(this.#buffer, chunk);
    }
    this.request = new TextDecoder().decode(this.#buffer);
    return /sec-websocket-key: (\S+)/i.exec(this.request)![1]!;
  }

  /** Answers 101 with a correct accept, `headers` added, `after` sent in the same write. */
  async accept(options: { headers?: string[]; after?: Uint8Array[]; accept?: string } = {}) {
    const key = await this.readRequest();
    const accept = options.accept ?? await acceptFor(key);
    const head = [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${accept}`,
      ...(options.headers ?? [`Sec-WebSocket-Protocol: ${PROTOCOL}`]),
    ].join("\r\n") + "\r\n\r\n";
    await this.write(join(text(head), ...(options.after ?? [])));
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
  }

  /** The next frame from the client, or null at EOF. */
  async nextFrame(): Promise<WsFrame | null> {
    while (this.#frames.length === 0) {
      const chunk = await this.#read();
      if (!chunk) return null;
      this.raw.push(chunk.slice());
      for (const f of this.#decoder.decode(chunk)) {
        this.#frames.push({ ...f, payload: f.payload.slice() });
      }
    }
    return this.#frames.shift()!;
  }

  async #read(): Promise<Uint8Array | null> {
    const buf = new Uint8Array(65536);
    const n = await this.conn.read(buf);
    return n === null ? null : buf.subarray(0, n);
  }

  close(): void {
    try {
      this.conn.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
  }
}

/** The masking key of each frame in `bytes` (a client's frames, back to back), as hex. */
function masksOf(bytes: Uint8Array): string[] {
  const masks: string[] = [];
  for (let at = 0; at < bytes.length;) {
    assert.ok(bytes[at + 1]! & 0x80, "frame not masked");
    let length = bytes[at + 1]! & 0x7f;
    at += 2;
    if (length === 126) {
      length = (bytes[at]! << 8) | bytes[at + 1]!;
      at += 2;
    } else if (length === 127) {
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + at).getBigUint64(0));
      at += 8;
    }
    masks.push(
      [...bytes.subarray(at, at + 4)].map((b) => b.toString(16).padStart(2, "0")).join(""),
    );
    at += 4 + length;
  }
  return masks;
}

function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((off, p) => (out.set(p, off), off + p.length), 0);
  return out;
}

async function acceptFor(key: string): Promise<string> {
  const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  const digest = await crypto.subtle.digest("SHA-1", text(key + guid));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** The two socket kinds the client runs over, each opened to 127.0.0.1:`port`. */
const SOCKETS: { name: string; open: (port: number) => Promise<ByteSocket> }[] = [
  {
    name: "Deno",
    open: async (port) => new DenoSocket(await Deno.connect({ hostname: "127.0.0.1", port })),
  },
  // Still connecting when the client starts: the request waits in the socket.
  { name: "node", open: (port) => Promise.resolve(new NodeSocket(connect({ port }))) },
];

/** Declares `body` as one test per socket kind; `socketKind` is set while it runs. */
function clientTest(name: string, body: () => Promise<void>): void {
  for (const kind of SOCKETS) {
    Deno.test(`${name} [${kind.name} socket]`, async () => {
      socketKind = kind;
      await body();
    });
  }
}

let socketKind = SOCKETS[0]!;

/**
 * Runs `body` with a client dialled at a one-connection raw server whose
 * side is `serve`. Both ends are closed afterwards whatever happened.
 */
async function withPeer(
  serve: (peer: RawPeer) => Promise<void>,
  body: (opening: ReturnType<typeof connectWebSocket>, peer: Promise<RawPeer>) => Promise<void>,
  options: Partial<WebSocketClientOptions> = {},
): Promise<void> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const peer = listener.accept().then((conn) => new RawPeer(conn));
  const socket = await socketKind.open(port);
  const opening = connectWebSocket(socket, new URL(`ws://127.0.0.1:${port}/agent?x=1`), {
    protocols: [PROTOCOL],
    ...options,
  });
  opening.catch(() => {}); // body decides what to expect
  const serving = peer.then(serve);
  try {
    await body(opening, peer);
    await within(5_000, "server script", serving);
  } finally {
    (await peer).close();
    await serving.catch(() => {});
    await opening.then((c) => (c.close(), c.closed), () => {});
    socket.close();
  }
}

clientTest(
  "request head carries path, Host, key, version, subprotocols and extra headers",
  async () => {
    await withPeer(async (peer) => {
      await peer.accept();
    }, async (opening, peer) => {
      const client = await opening;
      const request = (await peer).request;
      assert.match(request, /^GET \/agent\?x=1 HTTP\/1\.1\r\n/);
      assert.match(request, /\r\nHost: 127\.0\.0\.1:\d+\r\n/);
      assert.match(request, /\r\nUpgrade: websocket\r\n/);
      assert.match(request, /\r\nConnection: Upgrade\r\n/);
      assert.match(request, /\r\nSec-WebSocket-Version: 13\r\n/);
      assert.match(request, /\r\nSec-WebSocket-Protocol: burrow\.v1, burrow\.v0\r\n/);
      assert.match(request, /\r\nauthorization: Bearer t0ken\r\n/);
      assert.match(request, /\r\nUser-Agent: burrow\//);
      const key = /Sec-WebSocket-Key: (\S+)/.exec(request)![1]!;
      assert.equal(atob(key).length, 16);
      assert.equal(client.protocol, PROTOCOL);
    }, { protocols: [PROTOCOL, "burrow.v0"], headers: { authorization: "Bearer t0ken" } });
  },
);

clientTest(
  "a fragmented message with a ping between fragments arrives whole; the ping gets its pong",
  async () => {
    await withPeer(async (peer) => {
      await peer.accept({
        // In the same write as the 101: the client must not lose bytes after the head.
        after: [
          encodeFrame(Opcode.Binary, text("ab"), { more: true }),
          encodeFrame(Opcode.Ping, text("are you there")),
          encodeFrame(Opcode.Continuation, text("cd"), { more: true }),
          encodeFrame(Opcode.Continuation, text("ef")),
          encodeFrame(Opcode.Binary, text("next")),
        ],
      });
      const pong = await peer.nextFrame();
      assert.deepEqual(pong, { fin: true, opcode: Opcode.Pong, payload: text("are you there") });
    }, async (opening) => {
      const reader = (await opening).conn.readable.getReader();
      assert.deepEqual((await reader.read()).value, text("abcdef"));
      assert.deepEqual((await reader.read()).value, text("next"));
      reader.releaseLock();
    });
  },
);

clientTest("each write is one masked binary message, masked afresh", async () => {
  const payload = new Uint8Array(1000).fill(7);
  await withPeer(async (peer) => {
    await peer.accept();
    // The decoder only accepts masked frames.
    for (const n of [1000, 1000, 0, 70_000]) {
      const frame = await peer.nextFrame();
      assert.equal(frame?.opcode, Opcode.Binary);
      assert.equal(frame.fin, true);
      assert.equal(frame.payload.length, n);
    }
    // Each frame has a key of its own (four equal random keys: a 2^-96 chance).
    const masks = masksOf(join(...peer.raw));
    assert.equal(masks.length, 4);
    assert.equal(new Set(masks).size, 4, `masks ${masks}`);
  }, async (opening) => {
    const writer = (await opening).conn.writable.getWriter();
    await writer.write(payload);
    await writer.write(payload);
    await writer.write(new Uint8Array(0));
    await writer.write(new Uint8Array(70_000));
    writer.releaseLock();
  });
});

for (
  const [name, frame, closeCode, error, options] of [
    ["a text message", encodeFrame(Opcode.Text, text("hi")), 1003, /binary/, {}],
    [
      "a message over maxMessageSize",
      encodeFrame(Opcode.Binary, new Uint8Array(1001)),
      1009,
      /1001 bytes exceeds the limit of 1000/,
      { maxMessageSize: 1000 },
    ],
    ["an unknown opcode", Uint8Array.of(0x83, 0), 1002, /Unknown opcode 0x3/, {}],
  ] as const
) {
  clientTest(`${name} closes with ${closeCode} and errors the readable`, async () => {
    await withPeer(async (peer) => {
      await peer.accept({ after: [frame] });
      const close = await peer.nextFrame();
      assert.equal(close?.opcode, Opcode.Close);
      assert.equal(decodeClosePayload(close.payload).code, closeCode);
    }, async (opening) => {
      const client = await opening;
      await assert.rejects(client.conn.readable.getReader().read(), error);
      await assert.rejects(client.conn.writable.getWriter().write(new Uint8Array(1)), error);
    }, options);
  });
}

clientTest(
  "server close 1000 ends the readable; the client echoes it and the socket closes",
  async () => {
    await withPeer(async (peer) => {
      await peer.accept({ after: [encodeFrame(Opcode.Close, encodeClosePayload(1000, "bye"))] });
      const echo = await peer.nextFrame();
      assert.deepEqual(decodeClosePayload(echo!.payload), { code: 1000, reason: "bye" });
      assert.equal(await peer.nextFrame(), null, "client ends TCP after the close handshake");
      peer.close();
    }, async (opening) => {
      const client = await opening;
      assert.equal((await client.conn.readable.getReader().read()).done, true);
      await within(5_000, "socket closed", client.closed);
    });
  },
);

clientTest("server close 1001 errors the readable with the code and reason", async () => {
  await withPeer(async (peer) => {
    await peer.accept({
      after: [encodeFrame(Opcode.Close, encodeClosePayload(1001, "restarting"))],
    });
    const echo = await peer.nextFrame();
    assert.equal(decodeClosePayload(echo!.payload).code, CloseCode.GoingAway);
  }, async (opening) => {
    const client = await opening;
    await assert.rejects(client.conn.readable.getReader().read(), /code 1001: restarting/);
  });
});

clientTest(
  "client close sends 1000, still delivers data sent before the echo, then closes",
  async () => {
    await withPeer(async (peer) => {
      await peer.accept();
      const close = await peer.nextFrame();
      assert.equal(decodeClosePayload(close!.payload).code, 1000);
      await peer.write(join(
        encodeFrame(Opcode.Binary, text("late")),
        encodeFrame(Opcode.Close, close!.payload),
      ));
      peer.close();
    }, async (opening) => {
      const client = await opening;
      const reader = client.conn.readable.getReader();
      await client.conn.writable.close();
      assert.deepEqual((await reader.read()).value, text("late"));
      assert.equal((await reader.read()).done, true);
      await within(5_000, "socket closed", client.closed);
    });
  },
);

clientTest("a peer that never answers the close is dropped after closeTimeout", async () => {
  await withPeer(async (peer) => {
    await peer.accept();
    assert.equal((await peer.nextFrame())?.opcode, Opcode.Close);
    assert.equal(await peer.nextFrame(), null);
  }, async (opening) => {
    const client = await opening;
    const start = performance.now();
    client.close();
    await within(5_000, "socket dropped", client.closed);
    const took = performance.now() - start;
    assert.ok(took >= 150 && took < 2_000, `closed after ${took} ms`);
  }, { closeTimeout: 200 });
});

clientTest("a connection dropped without a close frame errors the readable (1006)", async () => {
  await withPeer(async (peer) => {
    await peer.accept();
    peer.close();
  }, async (opening) => {
    const client = await opening;
    await assert.rejects(
      client.conn.readable.getReader().read(),
      /without a close frame \(code 1006\)/,
    );
    await within(5_000, "socket closed", client.closed);
  });
});

const BAD_HANDSHAKES: [string, (peer: RawPeer) => Promise<void>, string, RegExp][] = [
  ["a wrong Sec-WebSocket-Accept", (p) => p.accept({ accept: "AAAA" }), "handshake", /Accept/],
  [
    "an extension nobody offered",
    (p) => p.accept({ headers: ["Sec-WebSocket-Extensions: permessage-deflate"] }),
    "handshake",
    /permessage-deflate/,
  ],
  [
    "a subprotocol nobody offered",
    (p) => p.accept({ headers: ["Sec-WebSocket-Protocol: burrow.v9"] }),
    "subprotocol",
    /burrow\.v9/,
  ],
  [
    "a status line that is not HTTP",
    async (p) => {
      await p.readRequest();
      await p.write(text("SSH-2.0-OpenSSH\r\n\r\n"));
    },
    "handshake",
    /Invalid HTTP response/,
  ],
  [
    "a connection closed mid-handshake",
    async (p) => {
      await p.readRequest();
      await p.write(text("HTTP/1.1 101 Switching"));
      p.close();
    },
    "handshake",
    /closed during the WebSocket handshake/,
  ],
  [
    "a 302 redirect",
    async (p) => {
      await p.readRequest();
      await p.write(
        text("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"),
      );
    },
    "refused",
    /HTTP 302 Found/,
  ],
];

for (const [name, serve, code, message] of BAD_HANDSHAKES) {
  clientTest(`handshake with ${name} fails with DialError "${code}"`, async () => {
    await withPeer(serve, async (opening) => {
      const error = await within(5_000, "handshake", opening.then(() => null, (e: unknown) => e));
      assert.ok(error instanceof DialError, `got ${error}`);
      assert.equal(error.code, code);
      assert.match(error.message, message);
    });
  });
}

clientTest("a reader that does not read stops the socket; nothing is lost", async () => {
  const MESSAGE = 64 * 1024;
  const COUNT = 512; // 32 MiB
  let sent = 0;
  await withPeer(async (peer) => {
    await peer.accept();
    for (let i = 0; i < COUNT; i++) {
      await peer.write(encodeFrame(Opcode.Binary, new Uint8Array(MESSAGE).fill(i & 0xff)));
      sent++;
    }
  }, async (opening) => {
    const client = await opening;
    // Give the server time to fill every buffer on the way.
    let last = -1;
    while (sent !== last) {
      last = sent;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(
      sent < COUNT / 2,
      `server sent ${sent} of ${COUNT} messages into a reader that reads nothing`,
    );
    const reader = client.conn.readable.getReader();
    for (let i = 0; i < COUNT; i++) {
      const { value } = await within(5_000, `message ${i}`, reader.read());
      assert.equal(value?.length, MESSAGE);
      assert.equal(value[0], i & 0xff);
    }
    reader.releaseLock();
  });
});

Deno.test("dial refuses a server that picks a subprotocol it did not offer, and drops the connection", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = listener.accept().then(async (conn) => {
    const peer = new RawPeer(conn);
    try {
      await peer.accept({ headers: ["Sec-WebSocket-Protocol: burrow.v9"] });
      // The connection never opened: no close handshake (RFC 6455 §4.1), just TCP's end.
      assert.equal(await peer.nextFrame(), null);
    } finally {
      peer.close();
    }
  });
  const url = `ws://127.0.0.1:${listener.addr.port}/`;
  const dialing = dialWebSocket(url, { protocols: [PROTOCOL] });
  const error = await within(5_000, "dial", dialing.then(() => null, (e) => e));
  assert.ok(error instanceof DialError, `got ${error}`);
  assert.equal(error.code, "subprotocol");
  assert.match(
    error.message,
    /^Cannot dial ws:\/\/127\.0\.0\.1:\d+\/: server chose subprotocol "burrow\.v9", not one of "burrow\.v1"$/,
  );
  await within(5_000, "server done", serving);
});

Deno.test("a dialled connection is dropped closeTimeout after close() when the server never answers", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = listener.accept().then((conn) => new RawPeer(conn));
  const serving = peer.then((p) => p.accept());
  const url = `ws://127.0.0.1:${listener.addr.port}/`;
  const dialed = await within(
    5_000,
    "dial",
    dialWebSocket(url, { protocols: [PROTOCOL], closeTimeout: 200 }),
  );
  try {
    await serving;
    const start = performance.now();
    dialed.close();
    assert.equal(
      (await within(5_000, "close frame", (await peer).nextFrame()))?.opcode,
      Opcode.Close,
    );
    await within(5_000, "closed", dialed.closed);
    const took = performance.now() - start;
    assert.ok(took >= 150 && took < 2_000, `closed after ${took} ms`);
    // The server sees the socket go.
    assert.equal(await within(5_000, "server EOF", (await peer).nextFrame()), null);
  } finally {
    (await peer).close();
  }
});
