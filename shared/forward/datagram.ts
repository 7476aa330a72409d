/**
 * Datagrams framed over a byte stream (UdpForward streams, kind `0x11`):
 * each datagram is a 2-byte big-endian length and that many bytes. A pure
 * codec, no I/O. Wire format in `docs/protocol.md`, "UdpForward streams".
 *
 * @module
 */

/** Size of the length prefix of a framed datagram, in bytes. */
export const DATAGRAM_HEADER_SIZE = 2;

/**
 * Largest datagram a UdpForward frame carries: the 2-byte length's maximum,
 * 65,535 bytes. A longer datagram cannot be framed and is a protocol error;
 * what fits a real UDP packet is less (65,507 bytes over IPv4), and a
 * datagram the socket cannot send is dropped, as a network would.
 */
export const MAX_DATAGRAM_SIZE = 0xffff;

/** A datagram could not be framed. */
export class DatagramError extends Error {
  /** Error class name, for logs and `instanceof`-free checks. */
  override name = "DatagramError";
  /** Machine-readable reason. */
  readonly code = "too-large" as const;
}

/**
 * Frames one datagram: its 2-byte length, then its bytes (a new array).
 *
 * @throws {DatagramError} when `payload` is longer than {@linkcode MAX_DATAGRAM_SIZE}.
 * @example
 * ```ts
 * encodeDatagram(new Uint8Array([7, 8])); // Uint8Array [0, 2, 7, 8]
 * ```
 */
export function encodeDatagram(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  if (n > MAX_DATAGRAM_SIZE) {
    throw new DatagramError(
      `Datagram of ${n} bytes exceeds the largest frame, ${MAX_DATAGRAM_SIZE} bytes`,
    );
  }
  const out = new Uint8Array(DATAGRAM_HEADER_SIZE + n);
  out[0] = n >>> 8;
  out[1] = n & 0xff;
  out.set(payload, DATAGRAM_HEADER_SIZE);
  return out;
}

/**
 * Cuts a byte stream into datagrams, whatever the chunking: a frame split
 * across chunks is held until it is whole, several frames in one chunk come
 * out one by one. Holds at most one partial frame (65,537 bytes).
 *
 * @example
 * ```ts
 * const decoder = new DatagramDecoder();
 * [...decoder.push(new Uint8Array([0, 2, 7]))]; // []
 * [...decoder.push(new Uint8Array([8, 0, 0]))]; // [Uint8Array [7, 8], Uint8Array []]
 * decoder.pending; // 0
 * ```
 */
export class DatagramDecoder {
  /** First byte of a length split across chunks, or -1. */
  #headByte = -1;
  /** The frame being filled (its full length allocated once), or null between frames. */
  #frame: Uint8Array | null = null;
  #filled = 0;

  /** Bytes held of an incomplete frame (0 between frames). */
  get pending(): number {
    return (this.#headByte >= 0 ? 1 : 0) + (this.#frame === null ? 0 : 2 + this.#filled);
  }

  /**
   * Feeds `chunk`; yields every datagram completed by it. A datagram that lay
   * whole in `chunk` is yielded as a view of it: copy it before the chunk's
   * buffer is reused.
   */
  *push(chunk: Uint8Array): Generator<Uint8Array> {
    let at = 0;
    while (at < chunk.length) {
      if (this.#frame !== null) {
        const frame = this.#frame;
        const take = Math.min(frame.length - this.#filled, chunk.length - at);
        frame.set(chunk.subarray(at, at + take), this.#filled);
        this.#filled += take;
        at += take;
        if (this.#filled === frame.length) {
          this.#frame = null;
          yield frame;
        }
        continue;
      }
      let n: number;
      if (this.#headByte >= 0) {
        n = (this.#headByte << 8) | chunk[at]!;
        this.#headByte = -1;
        at += 1;
      } else if (chunk.length - at >= DATAGRAM_HEADER_SIZE) {
        n = (chunk[at]! << 8) | chunk[at + 1]!;
        at += DATAGRAM_HEADER_SIZE;
        if (chunk.length - at >= n) {
          yield chunk.subarray(at, at + n);
          at += n;
          continue;
        }
      } else {
        this.#headByte = chunk[at]!;
        at += 1;
        continue;
      }
      if (n === 0) yield new Uint8Array(0);
      else {
        this.#frame = new Uint8Array(n);
        this.#filled = 0;
      }
    }
  }
}
