import assert from "node:assert/strict";
import { Session } from "../mux/session.ts";
import { memoryPair } from "../transport/memory.ts";
import {
  decodeClosePayload,
  encodeCloseFrame,
  encodeRelayFrame,
  RelayFrameDecoder,
} from "./relay_frame.ts";
import { type RelayOptions, relayWebSocket } from "./ws_relay.ts";

type Tunnel = "memory" | "mux";
const TUNNELS: Tunnel[] = ["memory", "mux"];

type Duplex = { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };

/**
 * A client WebSocket to a Deno.serve "front" whose socket is relayed by
 * `relay(socket)`. By default the front relays over a tunnel (an in-memory
 * pair, or a mux stream over one) to a second relay whose socket is a
 * `new WebSocket` to an echo service on the same server:
 * client ⇄ front socket ⇄ relay ⇄ tunnel ⇄ relay ⇄ socket ⇄ service.
 *
 * The service echoes messages, answers `close:<code>:<reason>` by closing,
 * and `big:<n>` with an n-byte binary message.
 */
async function harness(options: {
  front?: RelayOptions;
  agent?: RelayOptions;
  relay?: (socket: WebSocket) => Promise<void>;
  tunnel?: Tunnel;
} = {}) {
  const relays: Promise<void>[] = [];
  const [ca, cb] = memoryPair();
  const mux = options.tunnel === "mux"
    ? [
      new Session(ca, { client: true, enableKeepAlive: false }),
      new Session(cb, { client: false, enableKeepAlive: false }),
    ] as const
    : null;
  const serviceClosed = Promise.withResolvers<CloseEvent>();
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => listening.resolve(addr),
  }, async (req) => {
    // Open the tunnel first, then upgrade and relay at once so no message is missed.
    const tunnel = new URL(req.url).pathname === "/front" && !options.relay
      ? (mux ? [await mux[0].open(), (await mux[1].accept())!] as const : [ca, cb] as const)
      : null;
    const { socket, response } = Deno.upgradeWebSocket(req);
    if (new URL(req.url).pathname === "/service") {
      socket.binaryType = "arraybuffer";
      socket.onmessage = (e) => serve(socket, e.data);
      socket.onclose = (e) => serviceClosed.resolve(e);
    } else if (options.relay) {
      relays.push(options.relay(socket));
    } else {
      const [a, b] = tunnel!;
      relays.push(relayWebSocket(socket, a, options.front));
      const up = new WebSocket(`ws://127.0.0.1:${port}/service`);
      relays.push(relayWebSocket(up, b, options.agent));
    }
    return response;
  });
  const { port } = await listening.promise;
  const client = new WebSocket(`ws://127.0.0.1:${port}/front`);
  client.binaryType = "arraybuffer";
  const clientClosed = closed(client);
  await new Promise((r) => client.addEventListener("open", r, { once: true }));
  return {
    client,
    clientClosed,
    serviceClosed: serviceClosed.promise,
    async [Symbol.asyncDispose]() {
      if (client.readyState < WebSocket.CLOSING) client.close();
      await clientClosed;
      await Promise.all(relays);
      await server.shutdown();
      if (mux) await Promise.all([mux[0].close(), mux[1].close()]);
    },
  };
}

function serve(socket: WebSocket, data: string | ArrayBuffer): void {
  if (typeof data === "string" && data.startsWith("close:")) {
    const [, code, reason] = data.split(":");
    socket.close(Number(code), reason);
  } else if (typeof data === "string" && data.startsWith("big:")) {
    socket.send(new Uint8Array(Number(data.slice(4))));
  } else {
    socket.send(data);
  }
}

function closed(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((r) => ws.addEventListener("close", r, { once: true }));
}

function next(ws: WebSocket): Promise<string | ArrayBuffer> {
  return new Promise((r) => ws.addEventListener("message", (e) => r(e.data), { once: true }));
}

async function echo<T extends string | Uint8Array>(ws: WebSocket, msg: T): Promise<unknown> {
  const reply = next(ws);
  ws.send(msg);
  const data = await reply;
  return typeof data === "string" ? data : new Uint8Array(data);
}

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

for (const tunnel of TUNNELS) {
  Deno.test(`relayWebSocket() relays text and binary messages both ways (${tunnel})`, async () => {
    await using h = await harness({ tunnel });
    assert.equal(await echo(h.client, "hello"), "hello");
    assert.equal(await echo(h.client, "żółw 🐢"), "żółw 🐢");
    assert.equal(await echo(h.client, ""), "");
    assert.deepEqual(await echo(h.client, new Uint8Array([1, 2, 3])), new Uint8Array([1, 2, 3]));
    assert.deepEqual(await echo(h.client, new Uint8Array(0)), new Uint8Array(0));
    // Order is kept across many messages in flight.
    const got: unknown[] = [];
    const all = new Promise<void>((resolve) => {
      h.client.onmessage = (e) => {
        got.push(e.data);
        if (got.length === 100) resolve();
      };
    });
    for (let i = 0; i < 100; i++) h.client.send(`m${i}`);
    await all;
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => `m${i}`));
  });
}

for (const tunnel of TUNNELS) {
  Deno.test(`relayWebSocket() relays 5 MiB messages (${tunnel})`, async () => {
    await using h = await harness({ tunnel });
    const data = randomBytes(5 * 1024 * 1024);
    assert.deepEqual(await echo(h.client, data), data);
    const text = "x".repeat(5 * 1024 * 1024 - 3) + "🐢".slice(0, 2) + "é";
    assert.equal(await echo(h.client, text), text);
  });
}

for (const tunnel of TUNNELS) {
  Deno.test(`relayWebSocket() carries the client's close code and reason to the service (${tunnel})`, async () => {
    await using h = await harness({ tunnel });
    assert.equal(await echo(h.client, "ping"), "ping");
    h.client.close(4000, "bye");
    const service = await h.serviceClosed;
    assert.equal(service.code, 4000);
    assert.equal(service.reason, "bye");
    assert.equal((await h.clientClosed).code, 4000);
  });
}

Deno.test("relayWebSocket() carries the service's close code and reason to the client", async () => {
  const cases = [[4001, "done", "memory"], [1000, "normal", "mux"], [1001, "going away", "mux"]];
  for (const [code, reason, tunnel] of cases as [number, string, Tunnel][]) {
    await using h = await harness({ tunnel });
    h.client.send(`close:${code}:${reason}`);
    const e = await h.clientClosed;
    assert.equal(e.code, code);
    assert.equal(e.reason, reason);
    assert.equal((await h.serviceClosed).code, code);
  }
});

Deno.test("relayWebSocket() closes with 1009 on a message over maxMessageSize", async (t) => {
  await t.step("from the client", async () => {
    await using h = await harness({ front: { maxMessageSize: 1024 } });
    assert.equal((await echo(h.client, new Uint8Array(1024)) as Uint8Array).length, 1024);
    h.client.send(new Uint8Array(1025));
    const e = await h.clientClosed;
    assert.equal(e.code, 1009);
    assert.match(e.reason, /over 1024 bytes/);
    // A client socket cannot send 1009, so the agent's socket closes without a code.
    assert.equal((await h.serviceClosed).code, 1005);
  });
  await t.step("from the service", async () => {
    await using h = await harness({ agent: { maxMessageSize: 1024 }, tunnel: "mux" });
    h.client.send("big:2048");
    assert.equal((await h.clientClosed).code, 1009);
    assert.equal((await h.serviceClosed).code, 1005);
  });
  await t.step("announced by the tunnel peer", async () => {
    await using h = await harness({ front: { maxMessageSize: 1024 } });
    h.client.send("big:2048"); // the agent relays it, the front refuses it at the frame header
    assert.equal((await h.clientClosed).code, 1009);
  });
});

Deno.test("relayWebSocket() speaks the documented frame format", async () => {
  const [near, far] = memoryPair();
  let relay: Promise<void> = Promise.resolve();
  await using h = await harness({ relay: (socket) => (relay = relayWebSocket(socket, near)) });
  const reader = far.readable.getReader();
  const writer = far.writable.getWriter();
  const decoder = new RelayFrameDecoder(1 << 20);
  const frames: { type: number; payload: Uint8Array }[] = [];
  const readFrame = async () => {
    while (frames.length === 0) {
      const { value, done } = await reader.read();
      if (done) throw new Error("Stream ended");
      for (const f of decoder.decode(value)) frames.push({ ...f, payload: f.payload.slice() });
    }
    return frames.shift()!;
  };

  h.client.send("hi");
  h.client.send(new Uint8Array([7, 8]));
  assert.deepEqual(await readFrame(), { type: 1, payload: new Uint8Array([104, 105]) });
  assert.deepEqual(await readFrame(), { type: 2, payload: new Uint8Array([7, 8]) });

  // A frame split across writes still arrives as one message.
  const reply = next(h.client);
  const frame = encodeRelayFrame(1, new TextEncoder().encode("split"));
  for (const part of [frame.subarray(0, 2), frame.subarray(2, 6), frame.subarray(6)]) {
    await writer.write(part);
  }
  assert.equal(await reply, "split");

  await writer.write(encodeCloseFrame(4002, "tunnel says bye"));
  const e = await h.clientClosed;
  assert.equal(e.code, 4002);
  assert.equal(e.reason, "tunnel says bye");
  const echoed = await readFrame();
  assert.equal(echoed.type, 8);
  assert.deepEqual(decodeClosePayload(echoed.payload), { code: 4002, reason: "tunnel says bye" });
  assert.equal((await reader.read()).done, true, "FIN after the Close frame");
  await writer.close();
  await relay;
});

Deno.test("relayWebSocket() closes with 1011 when the tunnel stream fails or ends early", async (t) => {
  const cases: [string, (c: ReadableStreamDefaultController<Uint8Array>) => void, RegExp][] = [
    ["stream error", (c) => c.error(new Error("reset")), /Tunnel stream failed: reset/],
    ["end without a Close frame", (c) => c.close(), /ended without a close/],
    ["unknown frame type", (c) => c.enqueue(new Uint8Array([5, 0, 0, 0, 0])), /Unknown/],
  ];
  for (const [name, act, reason] of cases) {
    await t.step(name, async () => {
      let control!: ReadableStreamDefaultController<Uint8Array>;
      const readable = new ReadableStream<Uint8Array>({ start: (c) => void (control = c) });
      const written: Uint8Array[] = [];
      const writable = new WritableStream<Uint8Array>({ write: (c) => void written.push(c) });
      let relay: Promise<void> = Promise.resolve();
      await using h = await harness({
        relay: (s) => (relay = relayWebSocket(s, { readable, writable }, { closeTimeout: 50 })),
      });
      act(control);
      const e = await h.clientClosed;
      assert.equal(e.code, 1011);
      assert.match(e.reason, reason);
      await relay;
      const last = written.at(-1)!;
      assert.deepEqual(decodeClosePayload(last.subarray(5)).code, 1011, "Close frame sent");
    });
  }
});

Deno.test("relayWebSocket() closes with 1008 when messages outrun the tunnel", async () => {
  const gate = Promise.withResolvers<void>();
  const ended = Promise.withResolvers<void>();
  let writes = 0;
  const stream: Duplex = {
    readable: new ReadableStream({ start: (c) => void ended.promise.then(() => c.close()) }),
    writable: new WritableStream({
      async write() {
        writes++;
        await gate.promise;
      },
    }),
  };
  const options = { maxMessageSize: 1000, maxQueuedBytes: 1500 };
  let relay: Promise<void> = Promise.resolve();
  await using h = await harness({ relay: (s) => (relay = relayWebSocket(s, stream, options)) });
  h.client.send(new Uint8Array(700)); // being written (stalled)
  h.client.send(new Uint8Array(700)); // queued
  h.client.send(new Uint8Array(700)); // over the cap
  const e = await h.clientClosed;
  assert.equal(e.code, 1008);
  gate.resolve();
  ended.resolve();
  await relay;
  assert.equal(writes, 3, "two messages and the Close frame");
});
