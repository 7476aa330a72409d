/**
 * Incremental yamux frame decoder: feed it transport chunks of any size, get
 * frames back. Frames are found by their length prefix, never by scanning
 * bytes, and payloads are never copied.
 *
 * @module
 */

import { decodeHeader, type Frame, FrameType, HEADER_SIZE } from "./header.ts";
import { ProtocolError } from "./errors.ts";

/**
 * Turns a sequence of byte chunks into frames.
 *
 * Every payload is a view into the chunk it arrived in. A Data frame whose
 * payload spans several chunks is yielded once per chunk, as pieces with the
 * same header (`first` on the first piece, `last` on the final one), so a
 * receiver can account for the whole frame at its first piece and queue the
 * pieces as they come. A Data frame longer than `maxPayload` is rejected at
 * its header. Only a header split across chunks is copied (12 bytes).
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
  /** The Data frame whose payload is still arriving, and how many bytes of it are missing. */
  #current: Frame | null = null;
  #rest = 0;

  /** @param maxPayload Largest Data payload accepted, in bytes. */
  constructor(maxPayload: number) {
    this.#maxPayload = maxPayload;
  }

  /** Header bytes held for a frame whose header is not complete yet. */
  get buffered(): number {
    return this.#hdrFill;
  }

  /**
   * Yields every frame or frame piece in `chunk`, keeping a trailing partial
   * header for the next call. Consume the generator fully before the next call.
   *
   * @throws {ProtocolError} on an invalid header or an oversized Data frame.
   */
  *decode(chunk: Uint8Array): Generator<Frame, void, undefined> {
    let off = 0;
    const end = chunk.length;
    while (off < end) {
      if (this.#rest > 0) {
        const cur = this.#current!;
        const n = Math.min(this.#rest, end - off);
        this.#rest -= n;
        if (this.#rest === 0) this.#current = null;
        yield {
          type: cur.type,
          flags: cur.flags,
          streamId: cur.streamId,
          length: cur.length,
          payload: chunk.subarray(off, off + n),
          first: false,
          last: this.#rest === 0,
        };
        off += n;
        continue;
      }
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
        continue;
      }
      const n = Math.min(len, end - off);
      frame.payload = chunk.subarray(off, off + n);
      off += n;
      if (n < len) {
        frame.last = false;
        this.#rest = len - n;
        this.#current = frame;
      }
      yield frame;
    }
  }
}
