/**
 * Request and response bodies on their way through the server: the client's
 * upload pumped to the agent under the size limit and read timeout, the
 * agent's answer counted and held to the write timeout, small answers
 * gathered into one piece.
 *
 * @module
 */

import type { Watchdog } from "../shared/time/watchdog.ts";
import type { MuxStream } from "../shared/mux/mod.ts";
import { concat } from "../shared/bytes.ts";

/** Response bodies up to this size (by Content-Length) are sent in one piece. */
export const SMALL_BODY = 64 * 1024;

/**
 * Reads a whole body of at most `limit` bytes from `stream`. When it turns
 * out longer, what was read is put back (`unread`) and null is returned.
 */
export async function readSmall(stream: MuxStream, limit: number): Promise<Uint8Array | null> {
  // The usual small body is one chunk then the end: no list for it.
  const first = await stream.read();
  if (first === null) return new Uint8Array(0);
  if (first.length > limit) {
    stream.unread(first);
    return null;
  }
  const second = await stream.read();
  if (second === null) return first;
  const chunks: Uint8Array[] = [first, second];
  let total = first.length + second.length;
  while (total <= limit) {
    const value = await stream.read();
    if (value === null) return concat(chunks);
    chunks.push(value);
    total += value.length;
  }
  stream.unread(concat(chunks));
  return null;
}

/**
 * Streams the client's body to the agent, enforcing the size limit, the
 * read timeout (time the client leaves us waiting; time spent waiting for
 * the agent to take the bytes does not count) and the minimum rate: after
 * `t` ms spent waiting for the client, at least `minRate × (t − readTimeout)
 * / 1000` bytes must have come (Apache's `mod_reqtimeout` rule), checked as
 * each piece arrives. On any of them `abort` is called and the body is never
 * closed with FIN: a cut body must not look complete.
 */
export function pumpBody(
  body: ReadableStream<Uint8Array>,
  stream: MuxStream,
  options: {
    watchdog: Watchdog;
    readTimeout: number;
    /** Slowest average rate, bytes per second; 0 for none. */
    minRate: number;
    maxBytes: number;
    onBytes: (n: number) => void;
    abort: (status: number, reason: string) => void;
  },
): void {
  const { abort, minRate, readTimeout } = options;
  const reader = body.getReader();
  let stopped = false;
  let total = 0;
  /** Time spent waiting for the client's bytes. */
  let waited = 0;
  const watched = options.watchdog.watch(readTimeout, () => {
    stopped = true;
    abort(408, "request body read timeout");
    reader.cancel().catch(() => {});
  });
  (async () => {
    try {
      while (true) {
        watched.touch();
        const asked = performance.now();
        const { value, done } = await reader.read();
        if (done || stopped) break;
        waited += performance.now() - asked;
        total += value.length;
        options.onBytes(value.length);
        let cut: [number, string] | null = null;
        if (total > options.maxBytes) cut = [413, "request body too large"];
        else if (minRate > 0 && waited > readTimeout + total * 1000 / minRate) {
          const seconds = (waited / 1000).toFixed(1);
          cut = [
            408,
            `request body too slow: ${total} bytes in ${seconds} s, under ${minRate} B/s`,
          ];
        }
        if (cut !== null) {
          stopped = true;
          abort(cut[0], cut[1]);
          await reader.cancel().catch(() => {});
          break;
        }
        watched.pause();
        await stream.write(value);
      }
      if (!stopped) stream.closeWrite();
    } catch {
      // Client or agent went away; the stream is reset by whoever noticed.
    } finally {
      watched.done();
    }
  })();
}

/**
 * The body of a request whose head frames none (no Content-Length, no
 * Transfer-Encoding), for which Deno offers a stream anyway: empty over
 * HTTP/1.1, but over HTTP/2 (h2c on a plain listener) the body may simply
 * come unannounced. Its first piece is read, for at most `readTimeout` ms:
 * null when the body is empty, "timeout" when nothing came, else a stream
 * giving that piece and then the rest.
 */
export async function peekBody(
  body: ReadableStream<Uint8Array>,
  watchdog: Watchdog,
  readTimeout: number,
): Promise<ReadableStream<Uint8Array> | null | "timeout"> {
  const reader = body.getReader();
  const watched = watchdog.watch(readTimeout, () => reader.cancel().catch(() => {}));
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    // Empty pieces say nothing either way.
    do first = await reader.read(); while (!first.done && first.value.length === 0);
  } catch {
    first = { done: true, value: undefined };
  } finally {
    watched.done();
  }
  if (watched.timedOut) return "timeout";
  if (first.done) return null;
  let pending: Uint8Array | null = first.value;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pending !== null) {
        controller.enqueue(pending);
        pending = null;
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

/**
 * The error a response body is ended with when it cannot be delivered whole
 * (the agent reset the stream, the client was too slow): Deno then cuts the
 * client's connection, so the truncation shows. An expected event, written
 * to the access log's reason; Deno hands it to the server's error handler
 * too, which knows it by this class and does not log it as an error.
 */
export class ResponseAborted extends Error {
  /** Error class name. */
  override name = "ResponseAborted";
}

/** The agent's response body, counted for the access log, with the write timeout. */
export function countingBody(
  stream: MuxStream,
  options: {
    watchdog: Watchdog;
    writeTimeout: number;
    onBytes: (n: number) => void;
    onTimeout: () => void;
    onDone: (error: string | null) => void;
  },
): ReadableStream<Uint8Array> {
  const { onDone } = options;
  let finished = false;
  const done = (error: string | null) => {
    if (finished) return;
    finished = true;
    watched.done();
    onDone(error);
  };
  const watched = options.watchdog.watch(options.writeTimeout, () => {
    options.onTimeout();
    done("client too slow (write timeout)");
  });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // The write deadline runs from a chunk handed out until the next pull;
      // waiting for the agent's next chunk (an SSE gap) does not count.
      watched.pause();
      try {
        const value = await stream.read();
        if (value === null) {
          controller.close();
          done(null);
          return;
        }
        options.onBytes(value.length);
        controller.enqueue(value);
        watched.touch();
      } catch (e) {
        const reason = (e as Error).message;
        done(reason);
        controller.error(new ResponseAborted(`Response aborted: ${reason}`, { cause: e }));
      }
    },
    cancel(reason) {
      done(`client went away (${reason ?? "cancelled"})`);
      stream.cancelRead();
    },
  }, { highWaterMark: 0 });
}

/**
 * `new Response(body, { status, headers: pairs })`, with the headers appended
 * one by one instead: the same checks and result, but the constructor's
 * WebIDL conversion of a header list copies every pair (and costs about
 * twice as much, measured on Deno 2.9.6).
 *
 * @throws {TypeError} on an invalid header name or value, as the constructor does.
 * @example
 * ```ts
 * clientResponse(new TextEncoder().encode("hi"), 200, [["content-type", "text/plain"]]);
 * ```
 */
export function clientResponse(
  body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null,
  status: number,
  pairs: readonly (readonly [string, string])[],
): Response {
  const response = new Response(body, { status });
  const headers = response.headers;
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!;
    headers.append(pair[0], pair[1]);
  }
  return response;
}
