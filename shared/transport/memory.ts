/**
 * An in-memory transport pair, for tests and benchmarks of the layers above.
 *
 * @module
 */

import type { Conn } from "./conn.ts";

/**
 * Returns two connected transports: what one side writes, the other reads.
 * Each direction holds at most one chunk: a writer waits for the reader.
 *
 * @example
 * ```ts
 * const [a, b] = memoryPair();
 * const client = new Session(a, { client: true });
 * const server = new Session(b, { client: false });
 * ```
 */
export function memoryPair(): [Conn, Conn] {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const ba = new TransformStream<Uint8Array, Uint8Array>();
  return [
    { readable: ba.readable, writable: ab.writable },
    { readable: ab.readable, writable: ba.writable },
  ];
}
