/**
 * RFC 6455 WebSocket frame decoding: byte chunks in, whole frames (and whole
 * messages) out, no I/O. The frame layout is described in `ws_frame.ts`.
 *
 * @module
 */

import {
  maskInPlace,
  MAX_CONTROL_PAYLOAD,
  Opcode,
  WebSocketProtocolError,
  type WsFrame,
} from "./ws_frame.ts";

/** Options of {@linkcode WsFrameDecoder}. */
export interface WsFrameDecoderOptions {
  /** Largest payload accepted in one frame, in bytes; checked at the header. */
  maxPayload: number;
  /** True to decode a client's frames (each must be masked), false for a server's (none may be). */
  masked: boolean;
  /**
   * True to never yield a view into a chunk passed to `decode()`, for a
   * caller that reuses its read buffer. Default false.
   */
  copyPayloads?: boolean;
}

/** A parsed frame header. */
interface FrameHeader {
  fin: boolean;
  opcode: Opcode;
  mask: Uint8Array | null;
  length: number;
}

/** Largest frame header: 2 bytes, a 64-bit length and a masking key. */
const MAX_HEADER_SIZE = 14;

/**
 * Turns a sequence of byte chunks into whole frames, payloads unmasked.
 * A payload that arrived whole in one chunk of a server's frames is a view
 * into that chunk (unless `copyPayloads`); any other payload is a fresh buffer. Frames are found by
 * their length, never by scanning bytes.
 *
 * @example
 * ```ts
 * const decoder = new WsFrameDecoder({ maxPayload: 1 << 20, masked: false });
 * socket.on("data", (chunk) => {
 *   for (const frame of decoder.decode(chunk)) console.log(frame.opcode, frame.payload.length);
 * });
 * ```
 */
export class WsFrameDecoder {
  readonly #maxPayload: number;
  readonly #masked: boolean;
  readonly #copy: boolean;
  readonly #hdr = new Uint8Array(MAX_HEADER_SIZE);
  #hdrFill = 0;
  /** The frame whose payload is still arriving, its buffer, and how much of it is filled. */
  #current: FrameHeader | null = null;
  #payload = new Uint8Array(0);
  #filled = 0;

  /** Creates a decoder; see {@linkcode WsFrameDecoderOptions}. */
  constructor(options: WsFrameDecoderOptions) {
    this.#maxPayload = options.maxPayload;
    this.#masked = options.masked;
    this.#copy = options.copyPayloads ?? false;
  }

  /** Bytes held for a frame that is not complete yet. */
  get buffered(): number {
    return this.#hdrFill + this.#filled;
  }

  /**
   * The part still missing of the payload of a frame that `decode()` left
   * incomplete, or null. A reader may read the next bytes straight into it,
   * saving a copy, and then count them with {@linkcode filled}.
   */
  get pendingPayload(): Uint8Array | null {
    return this.#current ? this.#payload.subarray(this.#filled) : null;
  }

  /**
   * Counts `n` bytes written into {@linkcode pendingPayload}; returns the
   * frame once its payload is complete, else null.
   *
   * @throws {RangeError} when no payload is pending or `n` exceeds what is missing.
   */
  filled(n: number): WsFrame | null {
    const missing = this.#current ? this.#payload.length - this.#filled : 0;
    if (!Number.isInteger(n) || n < 0 || n > missing) {
      throw new RangeError(`Cannot count ${n} bytes: ${missing} bytes of payload are pending`);
    }
    this.#filled += n;
    if (this.#filled < this.#payload.length) return null;
    const header = this.#current!;
    this.#current = null;
    this.#filled = 0;
    return frameOf(header, this.#payload);
  }

  /**
   * Yields every frame completed by `chunk`, keeping a partial one for the
   * next call. Consume the generator fully before the next call.
   *
   * @throws {WebSocketProtocolError} on an invalid or oversized frame.
   */
  *decode(chunk: Uint8Array): Generator<WsFrame, void, undefined> {
    let off = 0;
    while (off < chunk.length) {
      if (this.#current) {
        const n = Math.min(this.#payload.length - this.#filled, chunk.length - off);
        this.#payload.set(chunk.subarray(off, off + n), this.#filled);
        this.#filled += n;
        off += n;
        if (this.#filled < this.#payload.length) return;
        const header = this.#current;
        this.#current = null;
        this.#filled = 0;
        yield frameOf(header, this.#payload);
        continue;
      }
      let header: FrameHeader;
      const avail = chunk.length - off;
      if (this.#hdrFill === 0 && avail >= 2 && avail >= headerSize(chunk[off + 1]!)) {
        header = this.#parseHeader(chunk, off);
        off += headerSize(chunk[off + 1]!);
      } else {
        off += this.#fillHeader(chunk, off);
        if (this.#hdrFill < 2 || this.#hdrFill < headerSize(this.#hdr[1]!)) return;
        this.#hdrFill = 0;
        header = this.#parseHeader(this.#hdr, 0);
      }
      const rest = chunk.length - off;
      if (header.length <= rest) {
        const view = chunk.subarray(off, off + header.length);
        off += header.length;
        // A masked payload is unmasked in a copy: the caller's chunk stays as it was.
        yield frameOf(header, header.mask || this.#copy ? view.slice() : view);
      } else {
        this.#current = header;
        this.#payload = new Uint8Array(header.length);
        this.#payload.set(chunk.subarray(off));
        this.#filled = rest;
        return;
      }
    }
  }

  /** Copies header bytes from `chunk` into the header buffer; returns how many it took. */
  #fillHeader(chunk: Uint8Array, off: number): number {
    const start = off;
    if (this.#hdrFill < 2) {
      const n = Math.min(2 - this.#hdrFill, chunk.length - off);
      this.#hdr.set(chunk.subarray(off, off + n), this.#hdrFill);
      this.#hdrFill += n;
      off += n;
      if (this.#hdrFill < 2) return off - start;
    }
    const n = Math.min(headerSize(this.#hdr[1]!) - this.#hdrFill, chunk.length - off);
    this.#hdr.set(chunk.subarray(off, off + n), this.#hdrFill);
    this.#hdrFill += n;
    return off + n - start;
  }

  #parseHeader(buf: Uint8Array, at: number): FrameHeader {
    const b0 = buf[at]!;
    const b1 = buf[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (b0 & 0x70) throw new WebSocketProtocolError("Frame has RSV bits set", "bad-frame");
    if (!OPCODES.has(opcode)) {
      throw new WebSocketProtocolError(`Unknown opcode 0x${opcode.toString(16)}`, "bad-opcode");
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.#masked) {
      const what = masked ? "A server frame is masked" : "A client frame is not masked";
      throw new WebSocketProtocolError(what, "bad-mask");
    }
    const view = new DataView(buf.buffer, buf.byteOffset + at, headerSize(b1));
    let length = b1 & 0x7f;
    let pos = 2;
    if (length === 126) {
      length = view.getUint16(2);
      pos = 4;
    } else if (length === 127) {
      const high = view.getUint32(2);
      if (high & 0x8000_0000) {
        throw new WebSocketProtocolError("Frame length has MSB set", "bad-frame");
      }
      length = high * 0x1_0000_0000 + view.getUint32(6);
      pos = 10;
    }
    if (opcode >= Opcode.Close && (!fin || length > MAX_CONTROL_PAYLOAD)) {
      throw new WebSocketProtocolError(
        `Control frame 0x${opcode.toString(16)} is fragmented or longer than 125 bytes`,
        "bad-frame",
      );
    }
    if (length > this.#maxPayload) {
      throw new WebSocketProtocolError(
        `Frame of ${length} bytes exceeds the limit of ${this.#maxPayload}`,
        "too-large",
      );
    }
    const mask = masked ? buf.slice(at + pos, at + pos + 4) : null;
    return { fin, opcode: opcode as Opcode, mask, length };
  }
}

const OPCODES: ReadonlySet<number> = new Set(Object.values(Opcode));

/** Header size implied by the second header byte (mask bit and 7-bit length). */
function headerSize(b1: number): number {
  const len7 = b1 & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

/** The frame for `header` with its payload, unmasked in place when the header has a mask. */
function frameOf(header: FrameHeader, payload: Uint8Array): WsFrame {
  if (header.mask) maskInPlace(payload, header.mask);
  return { fin: header.fin, opcode: header.opcode, payload };
}

/** A whole message joined from its data frames. */
export interface WsMessage {
  /** `Opcode.Text` or `Opcode.Binary`, from the first frame. */
  opcode: Opcode;
  /** The payloads of all its frames, in order. */
  data: Uint8Array;
}

/**
 * Joins fragmented messages (RFC 6455 §5.4): a Text or Binary frame starts a
 * message, Continuation frames extend it, FIN ends it. Control frames may
 * arrive between fragments and are not passed here.
 *
 * @example
 * ```ts
 * const assembler = new MessageAssembler(64 * 1024 * 1024);
 * for (const frame of decoder.decode(chunk)) {
 *   if (frame.opcode >= Opcode.Close) continue; // control frame
 *   const message = assembler.push(frame);
 *   if (message) console.log(message.data.length);
 * }
 * ```
 */
export class MessageAssembler {
  readonly #maxSize: number;
  #opcode: Opcode | null = null;
  #parts: Uint8Array[] = [];
  #size = 0;

  /** Creates an assembler accepting messages of at most `maxSize` bytes. */
  constructor(maxSize: number) {
    this.#maxSize = maxSize;
  }

  /**
   * Adds one data frame; returns the message it completes, or null while
   * more fragments are due. A single-frame message is returned without a copy.
   *
   * @throws {WebSocketProtocolError} on a Continuation with no message to
   * continue, a new message before the last one ended, or a message over the limit.
   */
  push(frame: WsFrame): WsMessage | null {
    const continuing = frame.opcode === Opcode.Continuation;
    if (continuing !== (this.#opcode !== null)) {
      throw new WebSocketProtocolError(
        continuing
          ? "Continuation frame with no message to continue"
          : "New message before the previous one ended",
        "bad-frame",
      );
    }
    this.#size += frame.payload.length;
    if (this.#size > this.#maxSize) {
      throw new WebSocketProtocolError(
        `Message of more than ${this.#maxSize} bytes`,
        "too-large",
      );
    }
    if (frame.fin && !continuing) {
      this.#size = 0;
      return { opcode: frame.opcode, data: frame.payload };
    }
    this.#opcode ??= frame.opcode;
    this.#parts.push(frame.payload);
    if (!frame.fin) return null;
    const data = new Uint8Array(this.#size);
    let off = 0;
    for (const part of this.#parts) {
      data.set(part, off);
      off += part.length;
    }
    const message = { opcode: this.#opcode, data };
    this.#opcode = null;
    this.#parts = [];
    this.#size = 0;
    return message;
  }
}
