/**
 * Reading one stream-open message (request or reply) from the front of a
 * stream; bytes that follow it are put back for the next reader.
 *
 * @module
 */

import {
  bodyLength,
  decodeReply,
  decodeTextReply,
  MAX_BODY_SIZE,
  OPEN_HEADER_SIZE,
  OpenError,
  type Params,
  parseBody,
  parseText,
  type Reply,
  TEXT_KINDS,
  type TextReply,
} from "./message.ts";
import { concat } from "../bytes.ts";
import { Watchdog, type Watched } from "../time/watchdog.ts";

/** Limits for reading a message. */
export interface ReadOptions {
  /** Largest body accepted. Default {@linkcode MAX_BODY_SIZE}. */
  maxBody?: number;
  /** Milliseconds to wait for the whole message. Default 10,000. */
  timeout?: number;
}

/** What a message is read from: a `MuxStream`, or anything with its reading calls. */
export interface MessageSource {
  /** The next chunk, or null at the end. */
  read(): Promise<Uint8Array | null>;
  /** Puts bytes back in front: the next `read()` returns them. */
  unread(chunk: Uint8Array): void;
  /** Gives up on the stream (a message that never completes). */
  reset(): void;
  /** Bytes that `read()` can return without waiting, when the source knows. */
  readonly buffered?: number;
}

/** An open request as read: JSON kinds fill `params`, text kinds `text`. */
export interface ReceivedOpen {
  /** What the stream is for. */
  kind: number;
  /** Parameters of a JSON kind; empty for a text kind. */
  params: Params;
  /** Body of a text kind ({@linkcode TEXT_KINDS}); empty for a JSON kind. */
  text: string;
}

/**
 * Reads an open request from the front of `source`; bytes after it stay in
 * `source` for the next reader.
 *
 * @throws {OpenError} on a malformed, oversized, truncated or late message.
 */
export function readOpen(
  source: MessageSource,
  options: ReadOptions = {},
): Promise<ReceivedOpen> {
  return readMessage(source, options, decodeOpen);
}

function decodeOpen(header: Uint8Array, body: Uint8Array): ReceivedOpen {
  const kind = header[1]!;
  return TEXT_KINDS.has(kind)
    ? { kind, params: {}, text: parseText(body) }
    : { kind, params: parseBody(body), text: "" };
}

/**
 * Reads a reply from the front of `source`; bytes after it stay in `source`.
 *
 * @throws {OpenError} on a malformed, oversized, truncated or late message.
 */
export function readReply(
  source: MessageSource,
  options: ReadOptions = {},
): Promise<Reply> {
  return readMessage(source, options, decodeReply);
}

/**
 * Reads the reply to a text kind's open request ({@linkcode TEXT_KINDS});
 * bytes after it stay in `source`.
 *
 * @throws {OpenError} on a malformed, oversized, truncated or late message.
 */
export function readTextReply(
  source: MessageSource,
  options: ReadOptions = {},
): Promise<TextReply> {
  return readMessage(source, options, decodeTextReply);
}

/** Watchdogs for message deadlines, one per sweep interval: no timer per message. */
const watchdogs = new Map<number, Watchdog>();

function watchdogFor(timeout: number): Watchdog {
  const interval = Watchdog.intervalFor(timeout);
  let w = watchdogs.get(interval);
  if (w === undefined) {
    w = new Watchdog(interval);
    watchdogs.set(interval, w);
  }
  return w;
}

/** What a message is read into before its first bytes arrive (never written to). */
const EMPTY = new Uint8Array(0);

/** Called back by the watchdog with the source as `this`: ends a message that came too late. */
function resetSource(this: MessageSource): void {
  this.reset();
}

function late(timeout: number): OpenError {
  return new OpenError(`No complete stream-open message within ${timeout} ms`, "timeout");
}

/**
 * Reads one message and hands it to `decode`: `header` is the message from
 * its start (decoders read its first {@linkcode OPEN_HEADER_SIZE} bytes),
 * `body` its body.
 */
async function readMessage<T>(
  source: MessageSource,
  options: ReadOptions,
  decode: (header: Uint8Array, body: Uint8Array) => T,
): Promise<T> {
  const maxBody = options.maxBody ?? MAX_BODY_SIZE;
  const timeout = options.timeout ?? 10_000;
  // A deadline only for a message that makes us wait: one that arrived with the
  // stream's first frames (the usual case) is read without a timer entry.
  let deadline: Watched | null = null;
  let buf: Uint8Array = EMPTY;
  // Chunks after `buf`, joined once enough arrived: joining at every chunk would copy
  // the message over and over for a peer that sends it a byte per frame.
  const more: Uint8Array[] = [];
  let have = 0;
  let need = OPEN_HEADER_SIZE;
  try {
    while (true) {
      if (have >= need) {
        if (more.length > 0) {
          buf = concat([buf, ...more]);
          more.length = 0;
        }
        if (need === OPEN_HEADER_SIZE) {
          need += bodyLength(buf, maxBody);
          continue;
        }
        break;
      }
      if (deadline === null && !(source.buffered! > 0)) {
        deadline = watchdogFor(timeout).watch(timeout, resetSource, source);
      }
      const value = await source.read();
      if (deadline?.timedOut) throw late(timeout);
      if (value === null) {
        throw new OpenError(
          `Stream ended after ${have} of ${need} bytes of a stream-open message`,
          "truncated",
        );
      }
      if (have === 0) buf = value;
      else more.push(value);
      have += value.length;
    }
  } catch (e) {
    if ((deadline as Watched | null)?.timedOut && !(e instanceof OpenError)) throw late(timeout);
    throw e;
  } finally {
    (deadline as Watched | null)?.done();
  }
  if (buf.length > need) source.unread(buf.subarray(need));
  return decode(buf, buf.subarray(OPEN_HEADER_SIZE, need));
}
