/**
 * Incremental yamux frame decoder: feed it transport chunks of any size, get
 * whole frames back. Frames are found by their length prefix, never by
 * scanning bytes.
 *
 * @module
 */

import { decodeHeader, type Frame, FrameType, HEADER_SIZE } from "./header.ts";
import { ProtocolError } from "./errors.ts";

/**
 * Turns a sequence of byte chunks into frames.
 *
 * A Data frame that arrives whole inside one chunk gets a payload that is a
 * view into that chunk (no copy); one split across chunks is assembled into a
 * buffer of exactly its length. A Data frame longer than `maxPayload` is
 * rejected before anything is allocated for it.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder(16 * 1024 * 1024);
 * for (const frame of decoder.decode(chunk)) console.log(frame.type, frame.payload.length);
 * ```
 */
export class FrameDecoder {
  readonly #maxPayload: number;
  readonly #hdr = new Uint8Array(HEADER_SIZE);
  #hdrFill = 0;
  /** A Data frame whose payload is still arriving. */
  #partial: Frame | null = null;
  #partialFill = 0;

  /** @param maxPayload Largest Data payload accepted, in bytes. */
  constructor(maxPayload: number) {
    this.#maxPayload = maxPayload;
  }

  /** Bytes held for a frame that is not complete yet. */
  get buffered(): number {
    return this.#hdrFill + this.#partialFill;
  }

  /**
   * Yields every frame completed by `chunk`, keeping any trailing partial frame
   * for the next call. Consume the generator fully before the next call.
   *
   * @throws {ProtocolError} on an invalid header or an oversized Data frame.
   */
  *decode(chunk: Uint8Array): Generator<Frame, void, undefined> {
    let off = 0;
    const end = chunk.length;
    if (this.#partial !== null) {
      const frame = this.#partial;
      const n = Math.min(frame.payload.length - this.#partialFill, end);
      frame.payload.set(n === end ? chunk : chunk.subarray(0, n), this.#partialFill);
      this.#partialFill += n;
      if (this.#partialFill < frame.payload.length) return;
      this.#partial = null;
      this.#partialFill = 0;
      off = n;
      yield frame;
    }
    while (off < end) {
      let frame: Frame;
      if (this.#hdrFill === 0 && end - off >= HEADER_SIZE) {
        frame = decodeHeader(chunk, off);
        off += HEADER_SIZE;
      } else {
        const n = Math.min(HEADER_SIZE - this.#hdrFill, end - off);
        this.#hdr.set(chunk.subarray(off, off + n), this.#hdrFill);
        this.#hdrFill += n;
        off += n;
        if (this.#hdrFill < HEADER_SIZE) return;
        this.#hdrFill = 0;
        frame = decodeHeader(this.#hdr, 0);
      }
      const len = frame.type === FrameType.Data ? frame.length : 0;
      if (len > this.#maxPayload) {
        throw new ProtocolError(
          `Data frame of ${len} bytes on stream ${frame.streamId} exceeds the limit of ${this.#maxPayload}`,
          "frame-too-large",
        );
      }
      if (len === 0) {
        yield frame;
      } else if (end - off >= len) {
        frame.payload = chunk.subarray(off, off + len);
        off += len;
        yield frame;
      } else {
        frame.payload = new Uint8Array(len);
        frame.payload.set(chunk.subarray(off), 0);
        this.#partialFill = end - off;
        this.#partial = frame;
        return;
      }
    }
  }
}
