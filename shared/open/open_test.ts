import assert from "node:assert/strict";
import {
  encodeOpen,
  encodeReply,
  MAX_BODY_SIZE,
  OPEN_VERSION,
  OpenError,
  openStream,
  readOpen,
  readReply,
  readTextReply,
  serveStream,
  type StreamHandler,
  StreamKind,
  TEXT_KINDS,
} from "./mod.ts";
import { Session } from "../mux/mod.ts";
import { memoryPair } from "../transport/memory.ts";

/** A message source over `chunks`, then the end (or, with `hang`, silence until reset). */
function sourceOf(...chunks: Uint8Array[]) {
  let front: Uint8Array | null = null;
  let gone = Promise.withResolvers<null>();
  let hang = false;
  return {
    hang() {
      hang = true;
      return this;
    },
    read(): Promise<Uint8Array | null> {
      if (front !== null) {
        const f = front;
        front = null;
        return Promise.resolve(f);
      }
      const next = chunks.shift();
      if (next !== undefined) return Promise.resolve(next);
      return hang ? gone.promise : Promise.resolve(null);
    },
    unread(chunk: Uint8Array) {
      front = chunk;
    },
    reset() {
      gone.reject(new Error("reset"));
      gone = Promise.withResolvers<null>();
    },
  };
}

async function collect(source: { read(): Promise<Uint8Array | null> }): Promise<number[]> {
  const out: number[] = [];
  for (let c = await source.read(); c !== null; c = await source.read()) out.push(...c);
  return out;
}

function isOpenError(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof OpenError, `expected OpenError, got ${e}`);
    assert.equal(e.code, code);
    return true;
  };
}

Deno.test("open message round-trips through chunks of every size, keeping what follows", async () => {
  const msg = encodeOpen({ kind: StreamKind.TcpForward, params: { host: "127.0.0.1", port: 22 } });
  const bytes = new Uint8Array([...msg, 9, 8, 7]);
  for (let cut = 1; cut < bytes.length; cut++) {
    const source = sourceOf(bytes.subarray(0, cut), bytes.subarray(cut));
    const value = await readOpen(source);
    assert.deepEqual(value, {
      kind: StreamKind.TcpForward,
      params: { host: "127.0.0.1", port: 22 },
      text: "",
    });
    assert.deepEqual(await collect(source), [9, 8, 7]);
  }
});

Deno.test("reply round-trips OK with data and ERROR with code and message", async () => {
  const ok = await readReply(sourceOf(encodeReply({ ok: true, data: { sid: "a" } })));
  assert.deepEqual(ok, { ok: true, data: { sid: "a" } });
  const err = await readReply(
    sourceOf(encodeReply({ ok: false, code: "denied", message: "Target not allowed" })),
  );
  assert.deepEqual(err, { ok: false, code: "denied", message: "Target not allowed" });
});

Deno.test("malformed open messages are rejected with typed errors", async () => {
  const body = new TextEncoder().encode("[1,2]");
  const cases: [Uint8Array[], string][] = [
    [[new Uint8Array([OPEN_VERSION + 1, 2, 0, 0, 0, 2, 0x7b, 0x7d])], "bad-version"],
    [[new Uint8Array([OPEN_VERSION - 1, 2, 0, 0, 0, 2, 0x7b, 0x7d])], "bad-version"],
    [[new Uint8Array([OPEN_VERSION, 2, 0xff, 0xff, 0xff, 0xff])], "too-large"],
    [[new Uint8Array([OPEN_VERSION, 2, 0, 0, 0, 3, 0x7b, 0x7b, 0x7b])], "bad-json"],
    [[new Uint8Array([OPEN_VERSION, 2, 0, 0, 0, body.length, ...body])], "bad-json"],
    [[new Uint8Array([OPEN_VERSION, 2, 0, 0, 0, 10, 0x7b])], "truncated"],
    [[new Uint8Array([OPEN_VERSION, 2, 0, 0, 0, 2, 0xc3, 0x28])], "bad-json"],
  ];
  for (const [chunks, code] of cases) {
    await assert.rejects(readOpen(sourceOf(...chunks)), isOpenError(code));
  }
  assert.throws(
    () => encodeOpen({ kind: 1, params: { big: "x".repeat(MAX_BODY_SIZE) } }),
    isOpenError("too-large"),
  );
});

Deno.test("a silent opener times out", async () => {
  const never = sourceOf().hang();
  // Deadlines use an unreferenced sweep timer (sockets keep real processes alive): hold the loop.
  const alive = setInterval(() => {}, 1000);
  try {
    await assert.rejects(readOpen(never, { timeout: 30 }), isOpenError("timeout"));
  } finally {
    clearInterval(alive);
  }
});

/** A client and server session with the server dispatching streams to `handlers`. */
async function withSessions(
  handlers: Map<number, StreamHandler>,
  body: (client: Session) => Promise<void>,
) {
  const [a, b] = memoryPair();
  const client = new Session(a, { client: true });
  const server = new Session(b, { client: false });
  const serving: Promise<void>[] = [];
  const loop = (async () => {
    for (let s = await server.accept(); s; s = await server.accept()) {
      serving.push(serveStream(s, handlers));
    }
  })();
  try {
    await body(client);
  } finally {
    await client.close();
    await server.close();
    await loop;
    await Promise.all(serving);
  }
}

Deno.test("openStream gets OK and a duplex; the handler sees kind and params", async () => {
  const handlers = new Map<number, StreamHandler>([[StreamKind.TcpForward, async (s) => {
    assert.deepEqual(s.params, { host: "h", port: 1 });
    await s.accept({ hello: "there" });
    await s.readable.pipeTo(s.writable);
  }]]);
  await withSessions(handlers, async (client) => {
    const opened = await openStream(client, {
      kind: StreamKind.TcpForward,
      params: { host: "h", port: 1 },
    });
    assert.deepEqual(opened.data, { hello: "there" });
    const writer = opened.writable.getWriter();
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.close();
    assert.deepEqual(await collect(opened.stream), [1, 2, 3]);
  });
});

Deno.test("unknown kinds are refused with ERROR, not a crash", async () => {
  await withSessions(new Map(), async (client) => {
    await assert.rejects(
      openStream(client, { kind: 0x7f, params: {} }),
      (e: unknown) => {
        isOpenError("refused")(e);
        assert.equal((e as OpenError).remoteCode, "unknown-kind");
        assert.match((e as Error).message, /Unknown stream kind 0x7f/);
        return true;
      },
    );
  });
});

Deno.test("a handler's refusal and a handler's exception both reach the opener", async () => {
  const handlers = new Map<number, StreamHandler>([
    [StreamKind.TcpForward, (s) => s.refuse("denied", "Target 10.0.0.1:22 is not allowed")],
    [StreamKind.Pty, () => Promise.reject(new Error("no shell"))],
  ]);
  await withSessions(handlers, async (client) => {
    await assert.rejects(openStream(client, { kind: StreamKind.TcpForward, params: {} }), (e) => {
      assert.equal((e as OpenError).remoteCode, "denied");
      assert.match((e as Error).message, /not allowed/);
      return true;
    });
    await assert.rejects(openStream(client, { kind: StreamKind.Pty, params: {} }), (e) => {
      assert.equal((e as OpenError).remoteCode, "internal");
      assert.match((e as Error).message, /no shell/);
      return true;
    });
  });
});

Deno.test("a malformed open message is answered with ERROR naming the problem", async () => {
  await withSessions(new Map(), async (client) => {
    const stream = await client.open();
    const writer = stream.writable.getWriter();
    await writer.write(new Uint8Array([OPEN_VERSION + 5, 1, 0, 0, 0, 0]));
    writer.releaseLock();
    const value = await readReply(stream);
    assert.equal(value.ok, false);
    assert.equal(!value.ok && value.code, "bad-version");
  });
});

Deno.test("non-ASCII parameters round-trip; bad UTF-8 stays an error", async () => {
  const params = { host: "例え.テスト", note: "é\u{1F600}", plain: "abc" };
  const msg = encodeOpen({ kind: StreamKind.TcpForward, params });
  assert.deepEqual(await readOpen(sourceOf(msg)), {
    kind: StreamKind.TcpForward,
    params,
    text: "",
  });
  const ascii = encodeOpen({ kind: StreamKind.TcpForward, params: { a: "x".repeat(5000) } });
  assert.deepEqual((await readOpen(sourceOf(ascii))).params, { a: "x".repeat(5000) });
  const bad = new Uint8Array([OPEN_VERSION, 0x10, 0, 0, 0, 4, 0x22, 0xff, 0x22, 0x20]);
  await assert.rejects(readOpen(sourceOf(bad)), isOpenError("bad-json"));
});

Deno.test("text kinds carry their body as text, in opens and OK replies; ERROR stays JSON", async () => {
  assert.ok(TEXT_KINDS.has(StreamKind.Http));
  const text = "例え.テスト\nGET\n/é\u{1F600}\n\n\n";
  const msg = encodeOpen({ kind: StreamKind.Http, text });
  assert.deepEqual(await readOpen(sourceOf(msg)), { kind: StreamKind.Http, params: {}, text });
  // A text kind's body is not parsed as JSON, whatever it looks like.
  const braces = encodeOpen({ kind: StreamKind.Http, text: "{not json" });
  assert.equal((await readOpen(sourceOf(braces))).text, "{not json");
  const bad = new Uint8Array([OPEN_VERSION, StreamKind.Http, 0, 0, 0, 2, 0x61, 0xff]);
  await assert.rejects(readOpen(sourceOf(bad)), isOpenError("bad-text"));

  const ok = encodeReply({ ok: true, text: "200\n\nx\ny" });
  assert.deepEqual(await readTextReply(sourceOf(ok)), { ok: true, text: "200\n\nx\ny" });
  const refused = encodeReply({ ok: false, code: "busy", message: "later" });
  assert.deepEqual(await readTextReply(sourceOf(refused)), {
    ok: false,
    code: "busy",
    message: "later",
  });
  const badReply = new Uint8Array([OPEN_VERSION, 0, 0, 0, 0, 1, 0xff]);
  await assert.rejects(readTextReply(sourceOf(badReply)), isOpenError("bad-text"));
});

Deno.test("a refusal whose reason echoes a whole oversized parameter still reaches the opener as ERROR", async () => {
  // A handler that quotes the peer's parameter in its reason (as the forward handlers
  // do with a bad host): the reason can be longer than a reply body may be.
  const handlers = new Map<number, StreamHandler>([[StreamKind.TcpForward, (s) =>
    s.refuse(
      "bad-params",
      `Forward host ${JSON.stringify(s.params.host)} is neither an IP address nor a host name`,
    )]]);
  await withSessions(handlers, async (client) => {
    const host = "\u0001".repeat(2700); // 16,200 bytes of JSON escapes in the open message
    await assert.rejects(
      openStream(client, { kind: StreamKind.TcpForward, params: { host, port: 1 } }),
      (e: unknown) => {
        isOpenError("refused")(e);
        assert.equal((e as OpenError).remoteCode, "bad-params");
        assert.match((e as Error).message, /^TcpForward stream refused: Forward host "\\u0001/);
        return true;
      },
    );
  });
});

Deno.test("a message sent a byte at a time is copied a bounded number of times", async () => {
  // A peer may send its open message one byte per Data frame: joining the bytes read so
  // far at every chunk copies the message ~n/2 times (130 MB for 16 KiB).
  const message = encodeOpen({
    kind: StreamKind.TcpForward,
    params: { host: "h", port: 1, pad: "x".repeat(MAX_BODY_SIZE - 100) },
  });
  const bytes = Array.from(message, (b) => Uint8Array.of(b));
  const set = Uint8Array.prototype.set;
  let copied = 0;
  Uint8Array.prototype.set = function (
    this: Uint8Array,
    array: ArrayLike<number>,
    offset?: number,
  ) {
    copied += array.length;
    return set.call(this, array, offset);
  };
  let opened;
  try {
    opened = await readOpen(sourceOf(...bytes));
  } finally {
    Uint8Array.prototype.set = set;
  }
  assert.equal(opened.params.host, "h");
  assert.ok(
    copied <= 4 * message.length,
    `${copied} bytes copied for a ${message.length}-byte message`,
  );
});
