/**
 * RFC 6455 WebSocket framing: constants, errors and frame encoding, no I/O
 * (decoding is in `ws_frame_decode.ts`). Used by the client
 * (`ws_client.ts`); Deno's own `WebSocket` frames everything else.
 *
 * Frame layout (RFC 6455 §5.2), integers big-endian:
 *
 * | bits | field                                                       |
 * | ---- | ----------------------------------------------------------- |
 * | 1    | FIN: last frame of a message                                |
 * | 3    | RSV1–3: extension bits, must be 0 (none are negotiated)     |
 * | 4    | opcode                                                      |
 * | 1    | MASK: payload is masked (every client frame, no server one) |
 * | 7    | payload length; 126: a 16-bit length follows, 127: 64-bit  |
 * | 32   | masking key, when MASK is set                               |
 *
 * @module
 */

import { MaskBuffer } from "./ws_mask.ts";

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  /** "%x0 denotes a continuation frame" */
  Continuation: 0x0,
  /** "%x1 denotes a text frame" */
  Text: 0x1,
  /** "%x2 denotes a binary frame" */
  Binary: 0x2,
  /** "%x8 denotes a connection close" */
  Close: 0x8,
  /** "%x9 denotes a ping" */
  Ping: 0x9,
  /** "%xA denotes a pong" */
  Pong: 0xa,
} as const;

/** An opcode value. */
export type Opcode = typeof Opcode[keyof typeof Opcode];

/** Close status codes Burrow sends or interprets (RFC 6455 §7.4.1). */
export const CloseCode = {
  /** "indicates a normal closure" */
  Normal: 1000,
  /** "an endpoint is 'going away', such as a server going down" */
  GoingAway: 1001,
  /** "an endpoint is terminating the connection due to a protocol error" */
  ProtocolError: 1002,
  /** "it has received a type of data it cannot accept" (Burrow: a text message) */
  UnsupportedData: 1003,
  /** Reported, never sent: the close frame carried no status code. */
  NoStatus: 1005,
  /** Reported, never sent: the connection dropped without a close frame. */
  Abnormal: 1006,
  /** "it has received a message that is too big for it to process" */
  MessageTooBig: 1009,
} as const;

/** Largest payload of a control frame (Close, Ping, Pong): "125 bytes or less". */
export const MAX_CONTROL_PAYLOAD = 125;

/** Why a peer's frames were rejected. */
export type WebSocketProtocolErrorCode =
  | "bad-frame"
  | "bad-opcode"
  | "bad-mask"
  | "bad-close"
  | "text-message"
  | "too-large";

/**
 * A peer broke RFC 6455 (or Burrow's binary-only rule). `closeCode` is the
 * status to close the connection with.
 *
 * @example
 * ```ts
 * throw new WebSocketProtocolError("Unknown opcode 0x3", "bad-opcode");
 * ```
 */
export class WebSocketProtocolError extends Error {
  /** Always "WebSocketProtocolError". */
  override name = "WebSocketProtocolError";
  /** Machine-readable reason. */
  readonly code: WebSocketProtocolErrorCode;
  /** Close status to send: 1009 for "too-large", 1003 for "text-message", else 1002. */
  readonly closeCode: number;

  /** Creates an error with a message and a code. */
  constructor(message: string, code: WebSocketProtocolErrorCode) {
    super(message);
    this.code = code;
    this.closeCode = code === "too-large"
      ? CloseCode.MessageTooBig
      : code === "text-message"
      ? CloseCode.UnsupportedData
      : CloseCode.ProtocolError;
  }
}

/** One WebSocket frame, payload unmasked. */
export interface WsFrame {
  /** Last frame of its message (always true for control frames). */
  fin: boolean;
  /** What the frame carries. */
  opcode: Opcode;
  /** Application data. */
  payload: Uint8Array;
}

/** Options of {@linkcode encodeFrame}. */
export interface EncodeFrameOptions {
  /** Clear FIN: more frames of this message follow. Default false. */
  more?: boolean;
  /** 4-byte masking key; a client must give a fresh random one per frame. */
  mask?: Uint8Array;
}

/**
 * Encodes one frame, header and payload in one new buffer (`payload` is
 * copied, and masked when `options.mask` is given). The payload lands at a
 * 4-byte aligned offset of its buffer so masking runs a word at a time.
 *
 * @throws {RangeError} when a mask is not 4 bytes or a control payload exceeds 125 bytes.
 * @example
 * ```ts
 * const mask = crypto.getRandomValues(new Uint8Array(4));
 * socket.write(encodeFrame(Opcode.Binary, new Uint8Array([1, 2, 3]), { mask }));
 * ```
 */
export function encodeFrame(
  opcode: Opcode,
  payload: Uint8Array,
  options: EncodeFrameOptions = {},
): Uint8Array {
  checkFrame(opcode, payload.length, options);
  return writeFrame(new Uint8Array(frameSpace(payload.length, options)), opcode, payload, options);
}

/** Most bytes a {@linkcode FrameEncoder} keeps between calls by default: 1 MiB. */
const MAX_KEPT_BUFFER = 1024 * 1024;

/**
 * Encodes frames like {@linkcode encodeFrame}, but into one buffer it keeps
 * and reuses, for a writer that has sent a frame before it encodes the
 * next: a frame returned by `encode()` is only valid until the next call.
 * A frame bigger than `maxKept` bytes gets a buffer of its own. The kept
 * buffer is WebAssembly memory where masking runs with SIMD (`ws_mask.ts`),
 * when the runtime has it.
 *
 * @example
 * ```ts
 * const encoder = new FrameEncoder();
 * for (const message of messages) {
 *   const mask = crypto.getRandomValues(new Uint8Array(4));
 *   await conn.write(encoder.encode(Opcode.Binary, message, { mask }));
 * }
 * ```
 */
export class FrameEncoder {
  readonly #maxKept: number;
  #buf = new Uint8Array(0);
  /** Created on the first masked frame; null without WebAssembly SIMD. */
  #simd: MaskBuffer | null | undefined;

  /** Creates an encoder that keeps a buffer of at most `maxKept` bytes (default 1 MiB). */
  constructor(maxKept: number = MAX_KEPT_BUFFER) {
    this.#maxKept = maxKept;
  }

  /**
   * Encodes one frame (payload copied, and masked when `options.mask` is
   * given); the result is a view valid until the next call.
   *
   * @throws {RangeError} when a mask is not 4 bytes or a control payload exceeds 125 bytes.
   */
  encode(opcode: Opcode, payload: Uint8Array, options: EncodeFrameOptions = {}): Uint8Array {
    checkFrame(opcode, payload.length, options);
    const space = frameSpace(payload.length, options);
    if (options.mask) {
      const simd = this.#simd ??= MaskBuffer.create(this.#maxKept);
      if (simd !== null && space <= simd.bytes.length) {
        return writeFrame(simd.bytes, opcode, payload, options, (p, m) => simd.mask(p, m));
      }
    }
    let buf = this.#buf;
    if (buf.length < space) {
      // Whole 64 KiB steps: batches of varying size do not regrow the buffer each time.
      buf = new Uint8Array(Math.ceil(space / 65536) * 65536);
      if (buf.length <= this.#maxKept) this.#buf = buf;
    }
    return writeFrame(buf, opcode, payload, options);
  }
}

/** Rejects a mask that is not 4 bytes and a control frame that cannot be sent. */
function checkFrame(opcode: Opcode, n: number, options: EncodeFrameOptions): void {
  const { mask, more = false } = options;
  if (mask && mask.length !== 4) throw new RangeError(`Mask of ${mask.length} bytes, expected 4`);
  if (opcode >= Opcode.Close && (n > MAX_CONTROL_PAYLOAD || more)) {
    throw new RangeError(`Control frame 0x${opcode.toString(16)} of ${n} bytes cannot be sent`);
  }
}

/** Header size of a frame with an `n`-byte payload. */
function frameHeaderSize(n: number, masked: boolean): number {
  return 2 + (n < 126 ? 0 : n < 0x10000 ? 2 : 8) + (masked ? 4 : 0);
}

/** Bytes of padding before a masked frame's header that put its payload on a 4-byte boundary. */
function framePad(headerSize: number, masked: boolean): number {
  return masked ? (4 - headerSize % 4) % 4 : 0;
}

/** Bytes a buffer needs for a frame with an `n`-byte payload: padding, header, payload. */
function frameSpace(n: number, options: EncodeFrameOptions): number {
  const headerSize = frameHeaderSize(n, options.mask !== undefined);
  return framePad(headerSize, options.mask !== undefined) + headerSize + n;
}

/**
 * Writes a checked frame at the start of `buf` (offset 0 of its own
 * ArrayBuffer, at least `frameSpace()` bytes) and returns the frame's view.
 */
function writeFrame(
  buf: Uint8Array,
  opcode: Opcode,
  payload: Uint8Array,
  options: EncodeFrameOptions,
  mask: (bytes: Uint8Array, mask: Uint8Array) => void = maskInPlace,
): Uint8Array {
  const { more = false } = options;
  const key = options.mask;
  const n = payload.length;
  const headerSize = frameHeaderSize(n, key !== undefined);
  const pad = framePad(headerSize, key !== undefined);
  const out = buf.subarray(pad, pad + headerSize + n);
  out[0] = (more ? 0 : 0x80) | opcode;
  const maskBit = key ? 0x80 : 0;
  if (n < 126) out[1] = maskBit | n;
  else if (n < 0x10000) {
    out[1] = maskBit | 126;
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = maskBit | 127;
    const view = new DataView(out.buffer, out.byteOffset, headerSize);
    view.setUint32(2, Math.floor(n / 0x1_0000_0000));
    view.setUint32(6, n >>> 0);
  }
  out.set(payload, headerSize);
  if (key) {
    out.set(key, headerSize - 4);
    mask(out.subarray(headerSize), key);
  }
  return out;
}

/**
 * XORs `bytes` with the 4-byte `mask` repeated from offset 0 (masking and
 * unmasking are the same operation). A word at a time when `bytes` is 4-byte
 * aligned in its buffer.
 *
 * @example
 * ```ts
 * const data = new Uint8Array([1, 2, 3, 4, 5]);
 * maskInPlace(data, new Uint8Array([0xff, 0, 0xff, 0]));
 * ```
 */
export function maskInPlace(bytes: Uint8Array, mask: Uint8Array): void {
  const n = bytes.length;
  let i = 0;
  if (n >= 16) {
    // Bytes up to a 4-byte boundary one at a time, then whole words: payloads
    // follow 2-, 4- or 10-byte headers plus the key, so they are rarely aligned.
    const lead = (4 - (bytes.byteOffset & 3)) & 3;
    for (; i < lead; i++) bytes[i]! ^= mask[i & 3]!;
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset + i, (n - i) >>> 2);
    // The key rotated to start at byte i, read as a word in platform byte order.
    const k = new Uint8Array(4);
    for (let j = 0; j < 4; j++) k[j] = mask[(i + j) & 3]!;
    const key = new Uint32Array(k.buffer)[0]!;
    // Four words per turn: about 15% faster than one in V8.
    const count = words.length;
    let w = 0;
    for (; w + 3 < count; w += 4) {
      words[w]! ^= key;
      words[w + 1]! ^= key;
      words[w + 2]! ^= key;
      words[w + 3]! ^= key;
    }
    for (; w < count; w++) words[w]! ^= key;
    i += count * 4;
  }
  for (; i < n; i++) bytes[i]! ^= mask[i & 3]!;
}

/** Payload of a Close frame with a status code and a UTF-8 reason (cut to fit 125 bytes). */
export function encodeClosePayload(code: number, reason = ""): Uint8Array {
  let text = new TextEncoder().encode(reason);
  if (text.length > MAX_CONTROL_PAYLOAD - 2) {
    // Cut on a character boundary: drop UTF-8 continuation bytes at the cut.
    let end = MAX_CONTROL_PAYLOAD - 2;
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const out = new Uint8Array(2 + text.length);
  new DataView(out.buffer).setUint16(0, code);
  out.set(text, 2);
  return out;
}

/**
 * Reads a Close frame's payload; an empty one means 1005 (no status).
 *
 * @throws {WebSocketProtocolError} on a 1-byte payload, a status code that
 * may not be sent, or a reason that is not UTF-8.
 */
export function decodeClosePayload(payload: Uint8Array): { code: number; reason: string } {
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: "" };
  if (payload.length === 1) throw new WebSocketProtocolError("Close frame of 1 byte", "bad-close");
  const code = (payload[0]! << 8) | payload[1]!;
  const allowed = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
  if (!allowed) throw new WebSocketProtocolError(`Close frame with code ${code}`, "bad-close");
  try {
    const reason = new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2));
    return { code, reason };
  } catch {
    throw new WebSocketProtocolError("Close frame reason is not UTF-8", "bad-close");
  }
}
