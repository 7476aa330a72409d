/**
 * Reading one stream-open message (request or reply) from the front of a
 * stream, keeping any bytes that follow it.
 *
 * @module
 */

import {
  bodyLength,
  decodeReply,
  MAX_BODY_SIZE,
  OPEN_HEADER_SIZE,
  OpenError,
  type OpenMessage,
  parseBody,
  type Reply,
} from "./message.ts";
import { concat } from "../bytes.ts";

/** Limits for reading a message. */
export interface ReadOptions {
  /** Largest body accepted. Default {@linkcode MAX_BODY_SIZE}. */
  maxBody?: number;
  /** Milliseconds to wait for the whole message. Default 10,000. */
  timeout?: number;
}

/** A message and the stream that continues after it. */
export interface Read<T> {
  /** The decoded message. */
  value: T;
  /** The rest of the stream: bytes after the message first (none are lost). */
  readable: ReadableStream<Uint8Array>;
}

/**
 * Reads an open request from the front of `readable`.
 *
 * @throws {OpenError} on a malformed, oversized, truncated or late message.
 */
export async function readOpen(
  readable: ReadableStream<Uint8Array>,
  options: ReadOptions = {},
): Promise<Read<OpenMessage>> {
  const { header, body, rest } = await readMessage(readable, options);
  return { value: { kind: header[1]!, params: parseBody(body) }, readable: rest };
}

/**
 * Reads a reply from the front of `readable`.
 *
 * @throws {OpenError} on a malformed, oversized, truncated or late message.
 */
export async function readReply(
  readable: ReadableStream<Uint8Array>,
  options: ReadOptions = {},
): Promise<Read<Reply>> {
  const { header, body, rest } = await readMessage(readable, options);
  return { value: decodeReply(header, body), readable: rest };
}

async function readMessage(
  readable: ReadableStream<Uint8Array>,
  options: ReadOptions,
): Promise<{ header: Uint8Array; body: Uint8Array; rest: ReadableStream<Uint8Array> }> {
  const maxBody = options.maxBody ?? MAX_BODY_SIZE;
  const timeout = options.timeout ?? 10_000;
  const reader = readable.getReader();
  let buf: Uint8Array = new Uint8Array(0);
  let need = OPEN_HEADER_SIZE;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel(new OpenError("Stream-open message timed out", "timeout")).catch(() => {});
  }, timeout);
  try {
    while (true) {
      if (buf.length >= need) {
        if (need === OPEN_HEADER_SIZE) {
          need += bodyLength(buf, maxBody);
          continue;
        }
        break;
      }
      const { value, done } = await reader.read();
      if (timedOut) {
        throw new OpenError(`No complete stream-open message within ${timeout} ms`, "timeout");
      }
      if (done) {
        throw new OpenError(
          `Stream ended after ${buf.length} of ${need} bytes of a stream-open message`,
          "truncated",
        );
      }
      buf = buf.length === 0 ? value : concat([buf, value]);
    }
  } catch (e) {
    reader.releaseLock();
    if (timedOut && !(e instanceof OpenError)) {
      throw new OpenError(`No complete stream-open message within ${timeout} ms`, "timeout");
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
  const header = buf.subarray(0, OPEN_HEADER_SIZE);
  const body = buf.subarray(OPEN_HEADER_SIZE, need);
  return { header, body, rest: prepend(buf.subarray(need), reader, readable) };
}

/**
 * The stream after a message: `rest` first, then whatever `reader` yields.
 * When `rest` is empty the original stream is handed back unwrapped, so the
 * common case adds no layer to the data path.
 */
function prepend(
  rest: Uint8Array,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  original: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  if (rest.length === 0) {
    reader.releaseLock();
    return original;
  }
  let first: Uint8Array | null = rest;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (first !== null) {
        controller.enqueue(first);
        first = null;
        return;
      }
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
