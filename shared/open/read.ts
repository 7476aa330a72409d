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
export async function readOpen(
  source: MessageSource,
  options: ReadOptions = {},
): Promise<ReceivedOpen> {
  const { header, body } = await readMessage(source, options);
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
export async function readReply(
  source: MessageSource,
  options: ReadOptions = {},
): Promise<Reply> {
  const { header, body } = await readMessage(source, options);
  return decodeReply(header, body);
}

/**
 * Reads the reply to a text kind's open request ({@linkcode TEXT_KINDS});
 * bytes after it stay in `source`.
 *
 * @throws {OpenError} on a malformed, oversized, truncated or late message.
 */
export async function readTextReply(
  source: MessageSource,
  options: ReadOptions = {},
): Promise<TextReply> {
  const { header, body } = await readMessage(source, options);
  return decodeTextReply(header, body);
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

async function readMessage(
  source: MessageSource,
  options: ReadOptions,
): Promise<{ header: Uint8Array; body: Uint8Array }> {
  const maxBody = options.maxBody ?? MAX_BODY_SIZE;
  const timeout = options.timeout ?? 10_000;
  const late = () =>
    new OpenError(`No complete stream-open message within ${timeout} ms`, "timeout");
  let timedOut = false;
  // A deadline only for a message that makes us wait: one that arrived with the
  // stream's first frames (the usual case) is read without a timer entry.
  let deadline: Watched | null = null;
  const wait = () =>
    deadline ??= watchdogFor(timeout).watch(timeout, () => {
      timedOut = true;
      source.reset();
    });
  let buf: Uint8Array = new Uint8Array(0);
  let need = OPEN_HEADER_SIZE;
  try {
    while (true) {
      if (buf.length >= need) {
        if (need === OPEN_HEADER_SIZE) {
          need += bodyLength(buf, maxBody);
          continue;
        }
        break;
      }
      if (!(source.buffered! > 0)) wait();
      const value = await source.read();
      if (timedOut) throw late();
      if (value === null) {
        throw new OpenError(
          `Stream ended after ${buf.length} of ${need} bytes of a stream-open message`,
          "truncated",
        );
      }
      buf = buf.length === 0 ? value : concat([buf, value]);
    }
  } catch (e) {
    if (timedOut && !(e instanceof OpenError)) throw late();
    throw e;
  } finally {
    (deadline as Watched | null)?.done();
  }
  if (buf.length > need) source.unread(buf.subarray(need));
  return { header: buf.subarray(0, OPEN_HEADER_SIZE), body: buf.subarray(OPEN_HEADER_SIZE, need) };
}
