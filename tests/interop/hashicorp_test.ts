/**
 * Interop with hashicorp/yamux (Go): Burrow's session is the server side of a
 * loopback TCP connection, Debian's 2019 yamux snapshot the client
 * (`go/yamux_peer/main.go`, driven by JSON lines).
 *
 * That snapshot returns EOF at once from a stream that has sent its FIN, so
 * every scenario lets the Go side read what it expects before it half-closes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MuxError, type MuxStream, type Session } from "../../shared/mux/mod.ts";
import { Flag, FrameType } from "../../shared/frame/header.ts";
import { randomBytes, readAll, sha256, within, writeAll } from "../helpers/streams.ts";
import { type Pair, type PeerEvent, startPair, WAIT_MS } from "./go_peer.ts";

// Needs Debian's Go toolchain and hashicorp/yamux package
// (apt-get install golang-go golang-github-hashicorp-yamux-dev); on Linux a
// missing toolchain fails the test rather than skipping it.
const ignore = Deno.build.os !== "linux";

const TAG_ECHO = 0x45; // 'E'
const TAG_RESET = 0x52; // 'R'

/** Sizes that cross the 256 KiB initial window and force window updates. */
const LARGE_SIZES = [0, 1, 1000, 65_536, 262_145, 1_048_577, 2_500_000, 4_194_304];

function smallSizes(n: number): number[] {
  return Array.from({ length: n }, () => Math.floor(Math.random() * 20_000));
}

function isMuxError(code: string): (e: unknown) => boolean {
  return (e) => e instanceof MuxError && e.code === code;
}

/** Reads a stream in pieces of a chosen size. */
class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #rest: Uint8Array = new Uint8Array(0);

  constructor(readable: ReadableStream<Uint8Array>) {
    this.#reader = readable.getReader();
  }

  /** Up to `max` (> 0) bytes; null at the end of the stream. */
  async read(max: number): Promise<Uint8Array | null> {
    while (this.#rest.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#rest = value;
    }
    const out = this.#rest.subarray(0, max);
    this.#rest = this.#rest.subarray(out.length);
    return out;
  }

  /** Exactly `n` bytes; throws at a premature end. */
  async exactly(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    for (let off = 0; off < n;) {
      const part = await this.read(n - off);
      if (part === null) throw new Error(`Stream ended ${n - off} bytes short`);
      out.set(part, off);
      off += part.length;
    }
    return out;
  }
}

interface EchoResult {
  id: number;
  size: number;
  sha: string;
  eof: boolean;
}

/**
 * Burrow's side of "open-echo": reads the 4-byte length, echoes that many
 * bytes, sends FIN first, then expects the Go side's FIN and nothing else.
 */
async function echoPrefixed(stream: MuxStream): Promise<EchoResult> {
  const input = new ByteReader(stream.readable);
  const writer = stream.writable.getWriter();
  const prefix = await input.exactly(4);
  const size = new DataView(prefix.buffer).getUint32(0);
  const hash = createHash("sha256");
  for (let left = size; left > 0;) {
    const chunk = await input.read(left);
    if (chunk === null) throw new Error(`Stream ${stream.id} ended with ${left} bytes to echo`);
    hash.update(chunk);
    await writer.write(chunk);
    left -= chunk.length;
  }
  await writer.close(); // FIN, before the Go side's.
  const after = await input.read(1);
  return { id: stream.id, size, sha: hash.digest("hex"), eof: after === null };
}

/** Accepts `count` streams and echoes each; resolves with the results by stream id. */
async function acceptAndEcho(session: Session, count: number): Promise<Map<number, EchoResult>> {
  const tasks: Promise<EchoResult>[] = [];
  for (let i = 0; i < count; i++) {
    const stream = await session.accept();
    if (stream === null) throw new Error(`Session closed after accepting ${i} of ${count} streams`);
    const task = echoPrefixed(stream);
    task.catch(() => {}); // Reported by Promise.all below.
    tasks.push(task);
  }
  return new Map((await Promise.all(tasks)).map((r) => [r.id, r]));
}

/** Scenario 1: Go opens a stream per size and checks the echo; Burrow echoes and FINs first. */
async function goOpensEcho(pair: Pair, sizes: number[]): Promise<void> {
  const echoed = acceptAndEcho(pair.session, sizes.length);
  echoed.catch(() => {});
  await pair.peer.send({ cmd: "open-echo", sizes });
  const reports = await pair.peer.take("open-echo", sizes.length);
  await pair.peer.next("open-echo-done");
  const burrow = await within(WAIT_MS, "Burrow's echo of Go-opened streams", echoed);
  const bySize = (a: unknown, b: unknown) => (a as number) - (b as number);
  assert.deepEqual(reports.map((r) => r.size).sort(bySize), [...sizes].sort(bySize));
  for (const r of reports) {
    const what = `Go-opened stream ${r.stream} (${r.size} bytes)`;
    assert.equal(r.err, "", what);
    assert.equal(r.recvLen, r.size, what);
    assert.equal(r.recvSha, r.sentSha, `${what}: echo differs from what Go sent`);
    assert.equal(r.eof, true, `${what}: Go saw no EOF after Burrow's FIN`);
    const b = burrow.get(r.stream as number);
    assert.ok(b, `${what}: Burrow did not accept it`);
    assert.equal(b.size, r.size, what);
    assert.equal(b.sha, r.sentSha, `${what}: Burrow received other bytes than Go sent`);
    assert.equal(b.eof, true, `${what}: Burrow saw no EOF after Go's FIN`);
  }
}

/** Scenario 2: Burrow opens streams, sends and half-closes; Go echoes after the FIN. */
async function burrowOpensEcho(pair: Pair, sizes: number[]): Promise<void> {
  const streams = Promise.all(sizes.map(async (size) => {
    const payload = randomBytes(size + 1);
    payload[0] = TAG_ECHO;
    const stream = await pair.session.open();
    await writeAll(stream.writable, payload, { chunk: 100_003 }); // Ends with FIN.
    const echo = await readAll(stream.readable); // Read entirely after Burrow's own FIN.
    return { id: stream.id, size, sent: sha256(payload.subarray(1)), echo };
  }));
  const results = await within(WAIT_MS, "Burrow-opened streams to be echoed", streams);
  const reports = new Map<unknown, PeerEvent>();
  for (const r of await pair.peer.take("accept-echo", sizes.length)) reports.set(r.stream, r);
  for (const { id, size, sent, echo } of results) {
    const what = `Burrow-opened stream ${id} (${size} bytes)`;
    const r = reports.get(id);
    assert.ok(r, `${what}: no report from Go`);
    assert.equal(r.err, "", what);
    assert.equal(r.eof, true, `${what}: Go saw no EOF after Burrow's FIN`);
    assert.equal(r.size, size, what);
    assert.equal(r.recvSha, sent, `${what}: Go received other bytes than Burrow sent`);
    assert.equal(echo.length, size, `${what}: echo length`);
    assert.equal(sha256(echo), sent, `${what}: echo differs from what Burrow sent`);
  }
}

Deno.test({
  name: "hashicorp/yamux: Go opens streams concurrently, Burrow echoes and sends FIN first",
  ignore,
  async fn() {
    await using pair = await startPair();
    await goOpensEcho(pair, [...LARGE_SIZES, ...smallSizes(64)]);
    assert.equal(pair.session.numStreams, 0, "streams left after FIN both ways");
    await pair.finish();
  },
});

Deno.test({
  name: "hashicorp/yamux: Burrow half-closes, then reads Go's echo sent after its FIN",
  ignore,
  async fn() {
    await using pair = await startPair();
    await burrowOpensEcho(pair, [0, 1, 70_000, 1_300_000, 3_000_000, ...smallSizes(16)]);
    assert.equal(pair.session.numStreams, 0, "streams left after FIN both ways");
    await pair.finish();
  },
});

Deno.test({
  name: "hashicorp/yamux: streams opened by both sides at once",
  ignore,
  async fn() {
    await using pair = await startPair();
    await Promise.all([
      goOpensEcho(pair, [1_500_000, ...smallSizes(32)]),
      burrowOpensEcho(pair, [1_500_000, ...smallSizes(32)]),
    ]);
    assert.equal(pair.session.numStreams, 0, "streams left after FIN both ways");
    await pair.finish();
  },
});

Deno.test({
  name: "hashicorp/yamux: windows larger than the initial 256 KiB, both ways",
  ignore,
  async fn() {
    await using pair = await startPair({ go: { window: 8 * 1024 * 1024 } });
    await Promise.all([
      goOpensEcho(pair, [6_000_000, 3_000_000]),
      burrowOpensEcho(pair, [6_000_000, 3_000_000]),
    ]);
    assert.equal(pair.session.numStreams, 0, "streams left after FIN both ways");
    await pair.finish();
  },
});

Deno.test({
  name: "hashicorp/yamux: Burrow's reset() reaches Go as ErrConnectionReset",
  ignore,
  async fn() {
    await using pair = await startPair();
    const marker = "burrow-rst-marker";
    const stream = await pair.session.open();
    const writer = stream.writable.getWriter();
    const input = new ByteReader(stream.readable);
    await writer.write(
      new Uint8Array([TAG_RESET, marker.length, ...new TextEncoder().encode(marker)]),
    );
    // Go answers once it has read the marker, so the RST cannot overtake it.
    const ok = await within(WAIT_MS, `"ok" from Go`, input.exactly(2));
    assert.equal(new TextDecoder().decode(ok), "ok");
    stream.reset();
    await assert.rejects(writer.write(new Uint8Array([1])), isMuxError("stream-reset"));
    await assert.rejects(input.read(1), isMuxError("stream-reset"));
    const r = await pair.peer.next("accept-rst", (e) => e.stream === stream.id);
    assert.equal(r.marker, marker);
    assert.equal(r.readLen, 0);
    assert.equal(r.err, "connection reset");
    assert.equal(r.reset, true, "Go's Read did not fail with yamux.ErrConnectionReset");
    assert.equal(pair.session.numStreams, 0);
    await pair.finish();
  },
});

Deno.test({
  name: "hashicorp/yamux: after Go's GoAway a new stream is reset and open() rejects with go-away",
  ignore,
  async fn() {
    await using pair = await startPair();
    // Hold Go's frames so Burrow opens a stream before it has seen the GoAway.
    pair.gate.hold();
    await pair.peer.send({ cmd: "goaway" });
    assert.equal((await pair.peer.next("goaway")).err, "");
    const stream = await pair.session.open(); // Its SYN reaches Go after the GoAway: Go sends RST.
    const read = stream.readable.getReader().read();
    read.catch(() => {});
    pair.gate.release();
    // Frames arrive in order: GoAway, then the RST.
    await assert.rejects(within(WAIT_MS, "RST from Go", read), isMuxError("stream-reset"));
    const write = stream.writable.getWriter().write(new Uint8Array([1]));
    await assert.rejects(write, isMuxError("stream-reset"));
    await assert.rejects(pair.session.open(), isMuxError("go-away"));
    assert.equal(pair.session.numStreams, 0);
    // GoAway is one-way: Go may still open streams to Burrow.
    await goOpensEcho(pair, [100_000]);
    await pair.finish();
  },
});

Deno.test({
  name: "hashicorp/yamux: after Burrow's goAway() Go's OpenStream fails with ErrRemoteGoAway",
  ignore,
  async fn() {
    await using pair = await startPair();
    pair.session.goAway();
    // Go handles frames in order: the answer to this ping proves it has handled the GoAway.
    await within(WAIT_MS, "ping", pair.session.ping());
    await pair.peer.send({ cmd: "open" });
    const r = await pair.peer.next("open");
    assert.equal(r.remoteGoAway, true, `Go's OpenStream returned "${r.err}"`);
    // Burrow may still open streams to Go.
    await burrowOpensEcho(pair, [100_000]);
    await pair.finish();
  },
});

Deno.test({
  name: "hashicorp/yamux: pings both ways",
  ignore,
  async fn() {
    await using pair = await startPair();
    const rtts = await within(
      WAIT_MS,
      "Burrow pings",
      Promise.all(Array.from({ length: 5 }, () => pair.session.ping())),
    );
    for (const rtt of rtts) assert.ok(Number.isFinite(rtt) && rtt >= 0, `rtt ${rtt}`);
    assert.ok(pair.session.rtt > 0);
    for (let i = 0; i < 3; i++) {
      await pair.peer.send({ cmd: "ping" });
      const r = await pair.peer.next("ping");
      assert.equal(r.ok, true, `Go's Ping failed: ${r.err}`);
    }
    await pair.finish();
  },
});

Deno.test({
  name: "hashicorp/yamux: keepalive pings are answered both ways",
  ignore,
  async fn() {
    const rounds = 3;
    const seen = { goPings: 0, burrowAcks: 0, burrowPings: 0, goAcks: 0 };
    const enough = Promise.withResolvers<void>();
    await using pair = await startPair({
      session: { keepAliveInterval: 20 },
      go: { keepAliveMs: 20 },
      onFrame(direction, frame) {
        if (frame.type !== FrameType.Ping) return;
        const syn = (frame.flags & Flag.SYN) !== 0;
        if (direction === "from-go") syn ? seen.goPings++ : seen.goAcks++;
        else syn ? seen.burrowPings++ : seen.burrowAcks++;
        if (Object.values(seen).every((n) => n >= rounds)) enough.resolve();
      },
    });
    await within(WAIT_MS, `${rounds} keepalive rounds each way`, enough.promise);
    assert.ok(pair.session.rtt > 0, "Burrow's keepalive measured no round trip");
    await pair.finish(); // Neither side closed for a failed keepalive.
  },
});

Deno.test({
  name: "hashicorp/yamux: Go closing the session closes Burrow's",
  ignore,
  async fn() {
    await using pair = await startPair();
    await burrowOpensEcho(pair, [10_000]);
    await pair.peer.send({ cmd: "close" });
    await within(WAIT_MS, "Burrow's session to close", pair.session.closed);
    assert.equal(pair.session.isClosed, true);
    assert.ok(pair.session.closeReason !== null, "a peer-closed session has a reason");
    assert.equal(await pair.session.accept(), null);
    await assert.rejects(pair.session.open(), isMuxError("session-closed"));
    const status = await pair.peer.stop();
    assert.equal(status.code, 0, pair.peer.stderr);
  },
});
