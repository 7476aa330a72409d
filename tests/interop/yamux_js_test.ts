/**
 * Interop with `npm:yamux-js@0.2.0`, in one process: a yamux-js `Server`
 * session and a Burrow client session joined by an adapter.
 *
 * yamux-js has measured defects that shape these tests:
 * - it ignores FIN (`processFlags` tests for SYN where it means FIN), so its
 *   streams never end: echoes are compared by length;
 * - it credits window on receipt, not on read (no backpressure);
 * - it drops data when a frame arrives split across two input chunks, so the
 *   adapter hands it Burrow's writes unchanged (Burrow writes whole frames);
 * - it has no stream reset; it sends RST only when its accept backlog overflows.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import { Server, type Stream as YamuxJsStream } from "yamux-js";
import { MuxError, Session } from "../../shared/mux/mod.ts";
import type { Conn } from "../../shared/transport/conn.ts";
import { randomBytes, sha256, within } from "../helpers/streams.ts";

const WAIT_MS = 20_000;
/** yamux-js's `STREAM_STATES.Reset`. */
const YAMUX_JS_RESET = 7;
/** yamux-js's Ping ACK flag. */
const FLAG_ACK = 2;

/** yamux-js's own members these tests reach past its types for. */
interface YamuxJsInternals {
  state: number;
  handlePing(hdr: { flags: number; length: number }): void;
  pings: Map<number, unknown>;
}

/**
 * Joins a yamux-js session (a Node Transform: frames in on its writable
 * side, frames out on its readable side) to a Burrow transport. Each Burrow
 * write reaches yamux-js as one chunk.
 */
function yamuxJsConn(peer: Server): Conn {
  let onData: ((b: Uint8Array) => void) | undefined;
  let onEnd: (() => void) | undefined;
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      onData = (b) => controller.enqueue(b);
      onEnd = () => controller.close();
      peer.on("data", onData);
      peer.on("end", onEnd);
    },
    cancel() {
      peer.off("data", onData!);
      peer.off("end", onEnd!);
    },
  });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      peer.write(chunk, (err) => err ? reject(err) : resolve());
      return promise;
    },
    // yamux-js ends with its own close(); ending its input early would lose its GoAway.
  });
  return { readable, writable };
}

interface JsPair extends AsyncDisposable {
  burrow: Session;
  peer: Server;
  /** The next stream Burrow opened, as yamux-js saw it. */
  accept(): Promise<Duplex>;
  /** What yamux-js logged and the errors it emitted. */
  log: string[];
  /** Resolves once yamux-js has seen `count` of its pings answered. */
  pingAcks(count: number): Promise<void>;
  /** Closes both sessions and checks yamux-js reported nothing. */
  finish(): Promise<void>;
}

function startPair(config: { acceptBacklog?: number; keepAliveInterval?: number } = {}): JsPair {
  const log: string[] = [];
  const queue: Duplex[] = [];
  let wake: (() => void) | null = null;
  const peer = new Server((stream) => {
    queue.push(stream);
    wake?.();
  }, {
    enableKeepAlive: config.keepAliveInterval !== undefined,
    keepAliveInterval: config.keepAliveInterval ?? 30,
    acceptBacklog: config.acceptBacklog ?? 256,
    logger: (...args: unknown[]) => void log.push(args.join(" ")),
  });
  peer.on("error", (e: Error) => void log.push(`error: ${e.message}`));
  const burrow = new Session(yamuxJsConn(peer), { client: true });
  // Counts the Ping ACKs yamux-js handles (answers from Burrow).
  let acks = 0;
  const ackWaiters: { count: number; resolve: () => void }[] = [];
  const internals = peer as unknown as YamuxJsInternals;
  const handlePing = internals.handlePing.bind(peer);
  internals.handlePing = (hdr) => {
    handlePing(hdr);
    if (hdr.flags !== FLAG_ACK) return;
    acks++;
    for (const w of ackWaiters.filter((w) => w.count <= acks)) {
      ackWaiters.splice(ackWaiters.indexOf(w), 1);
      w.resolve();
    }
  };
  return {
    burrow,
    peer,
    log,
    pingAcks(count) {
      if (acks >= count) return Promise.resolve();
      const { promise, resolve } = Promise.withResolvers<void>();
      ackWaiters.push({ count, resolve });
      return within(WAIT_MS, `${count} yamux-js pings to be answered`, promise);
    },
    async accept() {
      while (queue.length === 0) {
        await within(WAIT_MS, "yamux-js to accept a stream", new Promise<void>((r) => wake = r));
      }
      return queue.shift()!;
    },
    async finish() {
      assert.equal(burrow.closeReason, null, "Burrow's session failed");
      await within(WAIT_MS, "Burrow session.close()", burrow.close());
      peer.close();
      assert.deepEqual(log, [], "yamux-js logged problems");
    },
    async [Symbol.asyncDispose]() {
      await within(WAIT_MS, "Burrow session.close()", burrow.close()).catch(() => {});
      peer.close();
    },
  };
}

/** Collects `length` bytes from a Node stream that never ends (yamux-js ignores FIN). */
function collect(stream: Duplex, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let off = 0;
  const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
  const onData = (b: Uint8Array) => {
    if (off + b.length > length) {
      reject(new Error(`Received ${off + b.length} bytes, expected ${length}`));
      return;
    }
    out.set(b, off);
    off += b.length;
    if (off === length) resolve(out);
  };
  stream.on("data", onData);
  if (length === 0) resolve(out);
  return within(WAIT_MS, `${length} bytes from yamux-js`, promise).finally(() => {
    stream.off("data", onData);
  });
}

/** Writes `data` in pieces and resolves once yamux-js has framed all of it. */
function send(stream: Duplex, data: Uint8Array, piece = 65_536): Promise<void> {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  stream.once("finish", resolve);
  stream.once("error", reject);
  for (let off = 0; off < data.length; off += piece) stream.write(data.subarray(off, off + piece));
  stream.end();
  return within(WAIT_MS, "yamux-js to send", promise);
}

Deno.test("yamux-js: streams it opens are echoed by Burrow", async () => {
  await using pair = startPair();
  for (const size of [1, 1000, 300_000, 2_000_000]) {
    const payload = randomBytes(size);
    const accepted = pair.burrow.accept();
    const stream = pair.peer.open();
    const burrowStream = await within(WAIT_MS, "Burrow to accept", accepted);
    assert.ok(burrowStream !== null);
    // Echo; the pipe ends at yamux-js's FIN and sends Burrow's own FIN.
    const echoed = burrowStream.readable.pipeTo(burrowStream.writable);
    const echo = collect(stream, size);
    await send(stream, payload);
    stream.close(); // FIN
    assert.equal(sha256(await echo), sha256(payload), `${size} bytes`);
    await within(WAIT_MS, "Burrow's echo to end at yamux-js's FIN", echoed);
    assert.equal(pair.burrow.numStreams, 0);
  }
  await pair.finish();
});

Deno.test("yamux-js: streams Burrow opens are echoed by yamux-js", async () => {
  await using pair = startPair();
  for (const size of [1, 1000, 300_000, 2_000_000]) {
    const payload = randomBytes(size);
    const stream = await pair.burrow.open();
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    const written = (async () => {
      for (let off = 0; off < size; off += 100_000) {
        await writer.write(payload.subarray(off, off + 100_000));
      }
      await writer.close(); // yamux-js ignores this FIN.
    })();
    const peerStream = await pair.accept();
    peerStream.on("data", (b: Uint8Array) => peerStream.write(b));
    const echo = new Uint8Array(size);
    for (let off = 0; off < size;) {
      const { value, done } = await within(WAIT_MS, "echo", reader.read());
      assert.ok(!done, `echo ended after ${off} of ${size} bytes`);
      echo.set(value, off);
      off += value.length;
    }
    await within(WAIT_MS, "Burrow to send", written);
    assert.equal(sha256(echo), sha256(payload), `${size} bytes`);
    // yamux-js sends FIN properly: Burrow's readable ends and the stream is done.
    (peerStream as YamuxJsStream).close();
    assert.equal((await within(WAIT_MS, "FIN", reader.read())).done, true);
    assert.equal(pair.burrow.numStreams, 0);
  }
  await pair.finish();
});

Deno.test("yamux-js: Burrow's reset() moves its stream to Reset", async () => {
  await using pair = startPair();
  const stream = await pair.burrow.open();
  const writer = stream.writable.getWriter();
  await within(WAIT_MS, "Burrow to send", writer.write(new TextEncoder().encode("marker")));
  const peerStream = await pair.accept();
  assert.equal(new TextDecoder().decode(await collect(peerStream, 6)), "marker");
  stream.reset();
  // yamux-js handles frames in order: the ping's answer proves it has handled the RST.
  await within(WAIT_MS, "ping", pair.burrow.ping());
  assert.equal((peerStream as unknown as YamuxJsInternals).state, YAMUX_JS_RESET);
  // Its only other sign of the reset: writing fails with "connection reset".
  const failed = new Promise<Error>((resolve) => peerStream.once("error", resolve));
  peerStream.write(new Uint8Array([1]));
  assert.equal((await within(WAIT_MS, "write error", failed)).message, "connection reset");
  assert.equal(pair.burrow.numStreams, 0);
  await pair.finish();
});

Deno.test("yamux-js: a stream beyond its accept backlog is reset for Burrow", async () => {
  await using pair = startPair({ acceptBacklog: 1 });
  const first = await pair.burrow.open();
  const second = await pair.burrow.open();
  const read = second.readable.getReader().read();
  await assert.rejects(
    within(WAIT_MS, "RST from yamux-js", read),
    (e) => e instanceof MuxError && e.code === "stream-reset",
  );
  // The first stream still works.
  const writer = first.writable.getWriter();
  await writer.write(new Uint8Array([7]));
  const peerStream = await pair.accept();
  assert.deepEqual([...await collect(peerStream, 1)], [7]);
  assert.ok(pair.log.some((l) => l.includes("backlog exceeded")), pair.log.join("\n"));
  pair.log.length = 0; // That warning is expected here.
  await pair.finish();
});

Deno.test("yamux-js: pings both ways", async () => {
  await using pair = startPair({ keepAliveInterval: 0.02 }); // yamux-js counts seconds.
  const rtt = await within(WAIT_MS, "Burrow ping", pair.burrow.ping());
  assert.ok(Number.isFinite(rtt) && rtt >= 0);
  // yamux-js has no public ping; its keepalive pings, and Burrow answers.
  await pair.pingAcks(3);
  const internals = pair.peer as unknown as YamuxJsInternals;
  assert.ok(internals.pings.size <= 1, "yamux-js has more than one ping unanswered");
  await pair.finish();
});
