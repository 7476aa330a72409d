/**
 * Request and response bodies on their way through the server: the client's
 * upload pumped to the agent under the size limit and read timeout, the
 * agent's answer counted and held to the write timeout, small answers
 * gathered into one piece.
 *
 * @module
 */

import type { Watchdog } from "../shared/time/watchdog.ts";

/** Response bodies up to this size (by Content-Length) are sent in one piece. */
export const SMALL_BODY = 64 * 1024;

/**
 * Reads a whole body of at most `limit` bytes. When it turns out longer,
 * returns a stream that yields what was read and then the rest.
 */
export async function readSmall(
  readable: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | ReadableStream<Uint8Array>> {
  const reader = readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (total <= limit) {
    const { value, done } = await reader.read();
    if (done) {
      reader.releaseLock();
      if (chunks.length === 1) return chunks[0]!;
      const out = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      return out;
    }
    chunks.push(value);
    total += value.length;
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = chunks.shift();
      if (next !== undefined) {
        controller.enqueue(next);
        return;
      }
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/**
 * Streams the client's body to the agent, enforcing the size limit and the
 * read timeout (time the client leaves us waiting; time spent waiting for
 * the agent to take the bytes does not count). On either, `abort` is called
 * and the body is never closed with FIN: a cut body must not look complete.
 */
export function pumpBody(
  body: ReadableStream<Uint8Array>,
  writer: WritableStreamDefaultWriter<Uint8Array>,
  options: {
    watchdog: Watchdog;
    readTimeout: number;
    maxBytes: number;
    onBytes: (n: number) => void;
    abort: (status: number, reason: string) => void;
  },
): void {
  const { abort } = options;
  const reader = body.getReader();
  let stopped = false;
  let total = 0;
  const watched = options.watchdog.watch(options.readTimeout, () => {
    stopped = true;
    abort(408, "request body read timeout");
    reader.cancel().catch(() => {});
  });
  (async () => {
    try {
      while (true) {
        watched.touch();
        const { value, done } = await reader.read();
        if (done || stopped) break;
        total += value.length;
        options.onBytes(value.length);
        if (total > options.maxBytes) {
          stopped = true;
          abort(413, "request body too large");
          await reader.cancel().catch(() => {});
          break;
        }
        watched.pause();
        await writer.write(value);
      }
      if (!stopped) await writer.close();
      else writer.releaseLock();
    } catch {
      // Client or agent went away; the stream is reset by whoever noticed.
      writer.releaseLock();
    } finally {
      watched.done();
    }
  })();
}

/** The agent's response body, counted for the access log, with the write timeout. */
export function countingBody(
  src: ReadableStream<Uint8Array>,
  options: {
    watchdog: Watchdog;
    writeTimeout: number;
    onBytes: (n: number) => void;
    onTimeout: () => void;
    onDone: (error: string | null) => void;
  },
): ReadableStream<Uint8Array> {
  const { onDone } = options;
  const reader = src.getReader();
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
        const { value, done: end } = await reader.read();
        if (end) {
          controller.close();
          done(null);
          return;
        }
        options.onBytes(value.length);
        controller.enqueue(value);
        watched.touch();
      } catch (e) {
        controller.error(e);
        done((e as Error).message);
      }
    },
    cancel(reason) {
      done(`client went away (${reason ?? "cancelled"})`);
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
