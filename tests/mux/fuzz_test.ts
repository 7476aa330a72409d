/**
 * Random and bit-flipped frames into sessions: every failure must go through
 * the session's error path (a typed close reason), never an uncaught error.
 */
import assert from "node:assert/strict";
import { encodeFrames, type RawFrame, rawPeer } from "../helpers/raw_peer.ts";
import { Flag, FrameType, GoAwayCode } from "../../shared/frame/header.ts";
import { MuxError, ProtocolError } from "../../shared/mux/errors.ts";

/** A small deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Generates plausible frames for one session: mostly valid, with odd flags and ids mixed in. */
function frameSource(rand: () => number): () => RawFrame {
  const int = (n: number) => Math.floor(rand() * n);
  let nextId = 1;
  const open: number[] = [];
  const anyId = () => open.length > 0 && int(4) > 0 ? open[int(open.length)]! : int(10);
  return () => {
    const roll = int(100);
    if (roll < 15 || open.length === 0) {
      const id = nextId;
      nextId += 2;
      open.push(id);
      return { type: FrameType.WindowUpdate, flags: Flag.SYN, streamId: id };
    }
    if (roll < 60) {
      const flags = int(10) === 0 ? [Flag.FIN, Flag.RST, Flag.ACK][int(3)]! : 0;
      return { type: FrameType.Data, flags, streamId: anyId(), payload: new Uint8Array(int(4000)) };
    }
    if (roll < 80) {
      const flags = int(8) === 0 ? [Flag.FIN, Flag.RST, Flag.ACK, Flag.SYN][int(4)]! : 0;
      return { type: FrameType.WindowUpdate, flags, streamId: anyId(), length: int(1 << 18) };
    }
    if (roll < 95) {
      return { type: FrameType.Ping, flags: int(2) ? Flag.SYN : Flag.ACK, length: int(1 << 30) };
    }
    return { type: FrameType.GoAway, length: int(5) === 0 ? int(3) : GoAwayCode.Normal };
  };
}

function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  const out = bytes.slice();
  const flips = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < flips; i++) {
    const bit = Math.floor(rand() * Math.min(out.length, 64) * 8);
    out[bit >>> 3]! ^= 1 << (bit & 7);
  }
  return out;
}

Deno.test("10,000 random and bit-flipped frames never escape the session's error path", async () => {
  const rand = prng(20261122);
  const TOTAL = 10_000;
  const reasons = new Map<string, number>();
  let sent = 0;
  let sessions = 0;
  while (sent < TOTAL) {
    sessions++;
    const peer = rawPeer({ maxStreamWindow: 1 << 20, openTimeout: 1000 });
    const accepted = (async () => {
      // Read whatever streams get accepted, so the data paths run too.
      for (let st = await peer.session.accept(); st; st = await peer.session.accept()) {
        st.readable.pipeTo(new WritableStream()).catch(() => {});
      }
    })();
    const next = frameSource(rand);
    try {
      while (sent < TOTAL && !peer.session.isClosed) {
        let bytes = encodeFrames([next()]);
        if (rand() < 0.05) bytes = mutate(bytes, rand);
        // Split some frames so partial headers and payloads are exercised.
        const cut = rand() < 0.2 ? Math.floor(rand() * bytes.length) : 0;
        if (cut > 0) await peer.send(bytes.subarray(0, cut));
        await peer.send(bytes.subarray(cut));
        sent++;
      }
    } catch {
      // The session closed its side while a chunk was in flight.
    } finally {
      await peer.close();
      await accepted;
    }
    const reason = peer.session.closeReason;
    const key = reason === null ? "open" : `${reason.name}:${(reason as MuxError).code}`;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
    assert.ok(
      reason === null || reason instanceof ProtocolError || reason instanceof MuxError,
      `session ${sessions}: unexpected close reason ${reason}`,
    );
  }
  console.log(`${sent} frames into ${sessions} sessions:`, Object.fromEntries(reasons));
  // The generator must reach both outcomes, or it tests nothing.
  const protocolErrors = [...reasons].filter(([k]) => k.startsWith("ProtocolError"))
    .reduce((n, [, v]) => n + v, 0);
  assert.ok(protocolErrors >= 20, `only ${protocolErrors} protocol errors`);
  assert.ok(sessions < TOTAL / 10, `sessions die too fast (${sessions}) to reach deep states`);
});
