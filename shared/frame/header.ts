/**
 * The yamux frame header: constants and a pure codec, no I/O.
 *
 * Wire format (hashicorp/yamux `spec.md`): every frame starts with a 12-byte
 * header, all integers big-endian:
 *
 * | offset | size | field     |
 * | ------ | ---- | --------- |
 * | 0      | 1    | version   |
 * | 1      | 1    | type      |
 * | 2      | 2    | flags     |
 * | 4      | 4    | stream id |
 * | 8      | 4    | length    |
 *
 * Only a Data frame carries a payload (`length` bytes after the header); for
 * the other types `length` is a value (window delta, ping opaque, GoAway code).
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** "The version field is used for future backward compatibility. At the current time, the field is always set to 0." */
export const VERSION = 0;

/** Size of the fixed frame header in bytes. */
export const HEADER_SIZE = 12;

/** "The initial window size MUST be 256KB" for each new stream, in both directions. */
export const INITIAL_WINDOW = 256 * 1024;

/** Frame types. Dispatch tables are indexed by these values. */
export const FrameType = {
  /** "Used to transmit data. May transmit zero length if only flags." */
  Data: 0,
  /** "Used to updated the senders receive window size." */
  WindowUpdate: 1,
  /** "Used to measure RTT. It can also be used to heart-beat and do keep-alives over TCP." */
  Ping: 2,
  /** "Used to close a session." */
  GoAway: 3,
} as const;

/** A frame type value. */
export type FrameType = typeof FrameType[keyof typeof FrameType];

/** Number of frame types; any type byte `>=` this is a protocol error. */
export const FRAME_TYPE_COUNT = 4;

/** Frame flags; several may be set at once. */
export const Flag = {
  /** "Signals the start of a new stream. May be sent with a data or window update message. Also sent with a ping to indicate outbound." */
  SYN: 0x1,
  /** "Acknowledges the start of a new stream. May be sent with a data or window update message. Also sent with a ping to indicate response." */
  ACK: 0x2,
  /** "Performs a half-close of a stream. May be sent with a data message or window update." */
  FIN: 0x4,
  /** "Reset a stream immediately. May be sent with a data or window update message." */
  RST: 0x8,
} as const;

/** All flag bits a peer may set; any other bit is a protocol error. */
export const FLAG_MASK = 0xf;

/** GoAway codes carried in the length field of a GoAway frame. */
export const GoAwayCode = {
  /** "Normal termination" */
  Normal: 0,
  /** "Protocol error" */
  ProtocolError: 1,
  /** "Internal error" */
  InternalError: 2,
} as const;

/** A GoAway code value. */
export type GoAwayCode = typeof GoAwayCode[keyof typeof GoAwayCode];

/** A decoded frame header. */
export interface Header {
  /** Frame type. */
  type: FrameType;
  /** Bit set of {@linkcode Flag} values. */
  flags: number;
  /** Stream id; 0 for session-level frames (Ping, GoAway). */
  streamId: number;
  /** Payload length (Data) or value (WindowUpdate delta, Ping opaque, GoAway code). */
  length: number;
}

/**
 * A header with its payload, or with one piece of it: a Data frame that
 * arrives split across transport chunks is handed out as several pieces with
 * the same header, so no payload is ever copied to be reassembled.
 */
export interface Frame extends Header {
  /** Payload bytes of this piece (empty unless a Data frame): a view into the received chunk. */
  payload: Uint8Array;
  /** True for the piece that carries the start of the frame (and for whole frames). */
  first: boolean;
  /** True for the piece that carries the end of the frame (and for whole frames). */
  last: boolean;
}

/** The payload of every frame without one. Never written to. */
export const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Writes a frame header into `buf` at `offset`.
 *
 * @example
 * ```ts
 * const buf = new Uint8Array(HEADER_SIZE);
 * encodeHeader(buf, 0, { type: FrameType.Ping, flags: Flag.SYN, streamId: 0, length: 7 });
 * ```
 */
export function encodeHeader(buf: Uint8Array, offset: number, h: Header): void {
  buf[offset] = VERSION;
  buf[offset + 1] = h.type;
  buf[offset + 2] = h.flags >>> 8;
  buf[offset + 3] = h.flags & 0xff;
  writeU32(buf, offset + 4, h.streamId);
  writeU32(buf, offset + 8, h.length);
}

/**
 * Reads and validates a frame header from `buf` at `offset`
 * (`buf.length - offset >= HEADER_SIZE`). The result's payload is {@linkcode EMPTY};
 * {@linkcode FrameDecoder} fills it in for Data frames.
 *
 * @throws {ProtocolError} on a bad version, unknown type or unknown flag bits.
 */
export function decodeHeader(buf: Uint8Array, offset = 0): Frame {
  const version = buf[offset]!;
  if (version !== VERSION) {
    throw new ProtocolError(`Unsupported yamux version ${version}`, "bad-version");
  }
  const type = buf[offset + 1]!;
  if (type >= FRAME_TYPE_COUNT) {
    throw new ProtocolError(`Unknown frame type ${type}`, "bad-type");
  }
  const flags = (buf[offset + 2]! << 8) | buf[offset + 3]!;
  if ((flags & ~FLAG_MASK) !== 0) {
    throw new ProtocolError(`Unknown flags 0x${flags.toString(16)}`, "bad-flags");
  }
  return {
    type: type as FrameType,
    flags,
    streamId: readU32(buf, offset + 4),
    length: readU32(buf, offset + 8),
    payload: EMPTY,
    first: true,
    last: true,
  };
}

/** Writes a big-endian unsigned 32-bit integer. */
export function writeU32(buf: Uint8Array, offset: number, value: number): void {
  buf[offset] = value >>> 24;
  buf[offset + 1] = (value >>> 16) & 0xff;
  buf[offset + 2] = (value >>> 8) & 0xff;
  buf[offset + 3] = value & 0xff;
}

/** Reads a big-endian unsigned 32-bit integer. */
export function readU32(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) >>> 0) + (buf[offset + 1]! << 16) + (buf[offset + 2]! << 8) +
    buf[offset + 3]!;
}
