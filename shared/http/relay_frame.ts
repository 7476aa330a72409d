/**
 * The frames that carry WebSocket messages over a tunnel byte stream
 * (`docs/protocol.md`, "WebSocket messages inside an Http stream"): a pure
 * codec, no I/O.
 *
 * @module
 */

import { ProtocolError } from "../frame/errors.ts";

/** Frame types; the values match WebSocket opcodes. */
export const RelayFrameType = {
  /** A text message: the payload is its UTF-8 encoding. */
  Text: 1,
  /** A binary message. */
  Binary: 2,
  /**
   * The sender's WebSocket closed: payload empty (no status) or a 2-byte
   * big-endian code then a UTF-8 reason, at most 125 bytes in all. Last frame
   * of its direction.
   */
  Close: 8,
} as const;

/** A frame type value. */
export type RelayFrameType = typeof RelayFrameType[keyof typeof RelayFrameType];

/** Bytes before the payload: type (1) and big-endian payload length (4). */
export const RELAY_FRAME_HEADER_SIZE = 5;

/** Largest Close payload: 2-byte code and a 123-byte reason, as in RFC 6455. */
export const MAX_CLOSE_PAYLOAD = 125;

/** The close code standing for "no status received" (an empty Close payload). */
export const NO_STATUS = 1005;

/** One decoded frame. */
export interface RelayFrame {
  /** What the payload is. */
  type: RelayFrameType;
  /** The whole payload. */
  payload: Uint8Array;
}

/**
 * Encodes one frame: header and a copy of `payload` in one buffer.
 *
 * @example
 * ```ts
 * encodeRelayFrame(RelayFrameType.Text, new TextEncoder().encode("hi")); // [1, 0, 0, 0, 2, 104, 105]
 * ```
 */
export function encodeRelayFrame(type: RelayFrameType, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RELAY_FRAME_HEADER_SIZE + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, RELAY_FRAME_HEADER_SIZE);
  return out;
}

/**
 * Encodes a Close frame. `code` 1005 (no status) gives an empty payload; the
 * reason is cut to 123 bytes on a character boundary.
 *
 * @throws {RangeError} when `code` does not fit in 16 bits.
 */
export function encodeCloseFrame(code: number, reason = ""): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) {
    throw new RangeError(`Close code ${code} does not fit in 16 bits`);
  }
  if (code === NO_STATUS) return encodeRelayFrame(RelayFrameType.Close, new Uint8Array(0));
  const text = truncateUtf8(reason, MAX_CLOSE_PAYLOAD - 2);
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return encodeRelayFrame(RelayFrameType.Close, payload);
}

/**
 * Reads a Close payload: code 1005 for an empty one.
 *
 * @throws {ProtocolError} (`bad-message`) on a 1-byte payload or a reason that is not UTF-8.
 */
export function decodeClosePayload(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length === 0) return { code: NO_STATUS, reason: "" };
  if (payload.length < 2) throw new ProtocolError("Close payload of 1 byte", "bad-message");
  try {
    const reason = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2));
    return { code: (payload[0]! << 8) | payload[1]!, reason };
  } catch {
    throw new ProtocolError("Close reason is not UTF-8", "bad-message");
  }
}

/** The UTF-8 bytes of `text`, cut to at most `max` bytes without splitting a character. */
export function truncateUtf8(text: string, max: number): Uint8Array {
  const buf = new Uint8Array(Math.min(max, text.length * 3));
  const { written } = new TextEncoder().encodeInto(text, buf);
  return buf.subarray(0, written);
}

/**
 * Turns byte chunks of any size into whole frames. Frames are found by
 * their length prefix, never by scanning. A frame that lies within one chunk
 * is yielded as a view into it; one split across chunks is assembled into a
 * buffer allocated at its header (so at most `maxPayload` bytes).
 *
 * @example
 * ```ts
 * const decoder = new RelayFrameDecoder(16 * 1024 * 1024);
 * for (const frame of decoder.decode(chunk)) console.log(frame.type, frame.payload.length);
 * ```
 */
export class RelayFrameDecoder {
  readonly #maxPayload: number;
  readonly #hdr = new Uint8Array(RELAY_FRAME_HEADER_SIZE);
  #hdrFill = 0;
  #current: { type: RelayFrameType; buf: Uint8Array; fill: number } | null = null;

  /** @param maxPayload Largest Text or Binary payload accepted, in bytes. */
  constructor(maxPayload: number) {
    this.#maxPayload = maxPayload;
  }

  /** True when no partial frame is held: the stream may end here. */
  get idle(): boolean {
    return this.#hdrFill === 0 && this.#current === null;
  }

  /**
   * Yields every frame completed by `chunk`. Consume the generator fully
   * before the next call.
   *
   * @throws {ProtocolError} `bad-type` for an unknown type, `frame-too-large`
   * for a message over `maxPayload`, `bad-message` for a bad Close length.
   */
  *decode(chunk: Uint8Array): Generator<RelayFrame, void, undefined> {
    let off = 0;
    while (off < chunk.length) {
      const cur = this.#current;
      if (cur !== null) {
        const n = Math.min(cur.buf.length - cur.fill, chunk.length - off);
        cur.buf.set(chunk.subarray(off, off + n), cur.fill);
        cur.fill += n;
        off += n;
        if (cur.fill === cur.buf.length) {
          this.#current = null;
          yield { type: cur.type, payload: cur.buf };
        }
        continue;
      }
      let type: RelayFrameType;
      let length: number;
      if (this.#hdrFill === 0 && chunk.length - off >= RELAY_FRAME_HEADER_SIZE) {
        [type, length] = this.#header(chunk, off);
        off += RELAY_FRAME_HEADER_SIZE;
      } else {
        const n = Math.min(RELAY_FRAME_HEADER_SIZE - this.#hdrFill, chunk.length - off);
        this.#hdr.set(chunk.subarray(off, off + n), this.#hdrFill);
        this.#hdrFill += n;
        off += n;
        if (this.#hdrFill < RELAY_FRAME_HEADER_SIZE) return;
        this.#hdrFill = 0;
        [type, length] = this.#header(this.#hdr, 0);
      }
      if (chunk.length - off >= length) {
        yield { type, payload: chunk.subarray(off, off + length) };
        off += length;
      } else {
        this.#current = { type, buf: new Uint8Array(length), fill: 0 };
      }
    }
  }

  #header(bytes: Uint8Array, at: number): [RelayFrameType, number] {
    const type = bytes[at]!;
    const length = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0);
    if (type === RelayFrameType.Close) {
      if (length === 1 || length > MAX_CLOSE_PAYLOAD) {
        throw new ProtocolError(`Close frame of ${length} bytes`, "bad-message");
      }
      return [type, length];
    }
    if (type !== RelayFrameType.Text && type !== RelayFrameType.Binary) {
      throw new ProtocolError(`Unknown WebSocket frame type ${type}`, "bad-type");
    }
    if (length > this.#maxPayload) {
      throw new ProtocolError(
        `WebSocket message of ${length} bytes is over the limit of ${this.#maxPayload}`,
        "frame-too-large",
      );
    }
    return [type, length];
  }
}
