/**
 * The bodies of an Http exchange in the agent: the request body handed to
 * the backend, and the backend's response body as chunks to stream back
 * over the mux stream, both under the exchange's idle deadline.
 *
 * @module
 */

import type { Watched } from "../shared/time/watchdog.ts";
import type { MuxStream } from "../shared/mux/mod.ts";

/**
 * The request body for `fetch`: a fresh stream over the mux stream's bytes
 * (`fetch` refuses a stream already read from, as the open message was),
 * pulled only as fast as the backend takes it, with `idle` running while the
 * backend waits for the server's bytes. Cancelling it (fetch does when the
 * backend fails) leaves the mux stream alone: cancelling that would reset
 * the stream before the ERROR reply is written.
 *
 * @example
 * ```ts
 * const idle = watchdog.watch(idleTimeout, () => controller.abort());
 * idle.pause();
 * await fetch(url, { method: "POST", body: requestBody(incoming.stream, idle), duplex: "half" });
 * ```
 */
export function requestBody(
  stream: MuxStream,
  idle: Watched,
  waiting: Watched | null = null,
): ReadableStream<Uint8Array> {
  const source = requestSource(stream, idle, waiting);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const value = await source.read();
      if (value === null) controller.close();
      else controller.enqueue(value);
    },
  }, { highWaterMark: 0 });
}
/**
 * The request body for the HTTP/1.1 pool: the mux stream's bytes, with
 * `idle` running while the backend waits for the server's bytes, and
 * `waiting` (the response head's deadline) while the server's bytes wait
 * for the backend: restarted by each piece handed over, and by the end of
 * the body, from which the backend has its whole budget to answer. Time
 * the upload takes is the client's, not the backend's.
 */
export function requestSource(
  stream: MuxStream,
  idle: Watched,
  waiting: Watched | null = null,
): { read(): Promise<Uint8Array | null> } {
  return {
    async read() {
      waiting?.pause();
      idle.touch();
      try {
        return await stream.read();
      } finally {
        idle.pause();
        waiting?.touch();
      }
    },
  };
}

/** Size of the buffers response bodies are read into: Deno's own chunk for fetch bodies. */
const READ_CHUNK = 64 * 1024;
/** Spare read buffers kept for the next responses: 2 MiB at most. */
const SPARE_BUFFERS = 32;

/**
 * Read buffers for response bodies, reused from one response to the next.
 * Read by default, a fetch body allocates and zeroes a fresh 64 KiB buffer
 * for every read, even to find the end of a 12-byte body; a BYOB reader reads
 * into one of these instead. A buffer comes back only after a body ended
 * cleanly: then every chunk read into it was written, and the mux copies a
 * chunk into its batch before `write()` resolves.
 */
export class ReadBuffers {
  readonly #spare: ArrayBuffer[] = [];

  /** A buffer of 64 KiB, spare or new. */
  take(): ArrayBuffer {
    return this.#spare.pop() ?? new ArrayBuffer(READ_CHUNK);
  }

  /** Keeps `buffer` for later, unless enough are spare. */
  give(buffer: ArrayBuffer): void {
    if (this.#spare.length < SPARE_BUFFERS && buffer.byteLength === READ_CHUNK) {
      this.#spare.push(buffer);
    }
  }
}

/**
 * A backend's response body, whichever client fetched it. A chunk is valid
 * until the next `read()`: the mux copies it before `write()` resolves.
 */
export interface BodySource {
  /** The next chunk, or null at the end. */
  read(): Promise<Uint8Array | null>;
  /** Gives up on the rest. */
  cancel(): void;
}

/**
 * A `fetch` response body as a {@linkcode BodySource}, read with a BYOB
 * reader into buffers from `buffers` when it is a byte stream (fetch bodies
 * are). The buffer goes back to `buffers` once the body ended cleanly.
 */
export function fetchBody(body: ReadableStream<Uint8Array>, buffers: ReadBuffers): BodySource {
  let byob: ReadableStreamBYOBReader | null = null;
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  try {
    byob = body.getReader({ mode: "byob" });
  } catch {
    reader = body.getReader();
  }
  let buffer: ArrayBuffer | null = null;
  return {
    async read() {
      if (byob === null) {
        const chunk = await reader!.read();
        return chunk.done ? null : chunk.value;
      }
      const chunk = await byob.read(new Uint8Array(buffer ?? buffers.take()));
      // A BYOB read hands the buffer back as the chunk's (none when the body was cancelled).
      buffer = (chunk.value?.buffer as ArrayBuffer | undefined) ?? null;
      if (!chunk.done) return chunk.value;
      if (buffer !== null) buffers.give(buffer);
      buffer = null;
      return null;
    },
    cancel() {
      (byob ?? reader)!.cancel().catch(() => {});
    },
  };
}
