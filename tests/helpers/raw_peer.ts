/**
 * A hand-driven yamux peer for tests: one side is a real `Session`, the other
 * writes raw bytes and decodes what the session sends.
 *
 * @module
 */

import { memoryPair } from "../../shared/transport/memory.ts";
import { Session } from "../../shared/mux/session.ts";
import type { SessionOptions } from "../../shared/mux/config.ts";
import { encodeHeader, type Frame, FrameType, HEADER_SIZE } from "../../shared/frame/header.ts";
import { FrameDecoder } from "../../shared/frame/decoder.ts";

/** A frame to send by hand; `length` defaults to the payload length for Data frames. */
export interface RawFrame {
  type: FrameType;
  flags?: number;
  streamId?: number;
  length?: number;
  payload?: Uint8Array;
  version?: number;
}

/** Encodes raw frames back to back; `version` lets a test send a bad one. */
export function encodeFrames(frames: RawFrame[]): Uint8Array {
  const size = frames.reduce((n, f) => n + HEADER_SIZE + (f.payload?.length ?? 0), 0);
  const buf = new Uint8Array(size);
  let off = 0;
  for (const f of frames) {
    const payload = f.payload ?? new Uint8Array(0);
    encodeHeader(buf, off, {
      type: f.type,
      flags: f.flags ?? 0,
      streamId: f.streamId ?? 0,
      length: f.length ?? payload.length,
    });
    if (f.version !== undefined) buf[off] = f.version;
    buf.set(payload, off + HEADER_SIZE);
    off += HEADER_SIZE + payload.length;
  }
  return buf;
}

/** A session wired to a raw peer. */
export interface RawPeer {
  session: Session;
  /** Sends raw bytes or frames to the session. */
  send(data: Uint8Array | RawFrame[]): Promise<void>;
  /** Resolves with the next frame the session sent matching `pred` (frames before it are dropped). */
  next(pred?: (f: Frame) => boolean): Promise<Frame>;
  /** Closes the raw side and waits for the session to close. */
  close(): Promise<void>;
}

/** Creates a session (default: server side, no keepalive) wired to a raw peer. */
export function rawPeer(options: Partial<SessionOptions> = {}): RawPeer {
  const [a, b] = memoryPair();
  const session = new Session(a, { client: false, enableKeepAlive: false, ...options });
  const writer = b.writable.getWriter();
  const reader = b.readable.getReader();
  const decoder = new FrameDecoder(1 << 30);
  const frames: Frame[] = [];
  let waiter = null as (() => void) | null;
  let ended = false;
  const pump = (async () => {
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const f of decoder.decode(value)) {
          // Pieces of a split Data frame are joined back into one frame.
          const prev = f.first ? null : frames[frames.length - 1];
          if (prev) {
            const joined = new Uint8Array(prev.payload.length + f.payload.length);
            joined.set(prev.payload);
            joined.set(f.payload, prev.payload.length);
            prev.payload = joined;
            prev.last = f.last;
          } else frames.push({ ...f, payload: f.payload.slice() });
        }
        waiter?.();
      }
    } catch {
      // The session aborted its side; nothing more will come.
    }
    ended = true;
    waiter?.();
  })();
  return {
    session,
    async send(data) {
      await writer.write(data instanceof Uint8Array ? data : encodeFrames(data));
    },
    async next(pred = () => true) {
      while (true) {
        const i = frames.findIndex(pred);
        if (i >= 0) return frames.splice(0, i + 1).pop()!;
        frames.length = 0;
        if (ended) throw new Error("Session sent no matching frame before closing");
        await new Promise<void>((r) => waiter = r);
        waiter = null;
      }
    },
    async close() {
      await writer.close().catch(() => {});
      await session.close();
      await reader.cancel().catch(() => {});
      await pump;
    },
  };
}
