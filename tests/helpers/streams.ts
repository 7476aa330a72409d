/**
 * Small stream utilities for tests: random payloads, hashing, collecting.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { concat } from "../../shared/bytes.ts";

/** Random bytes of any length (Web Crypto fills at most 64 KiB per call). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/** Hex SHA-256 of some bytes. */
export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Reads a stream to its end and returns the bytes joined. */
export async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of readable) chunks.push(c);
  return concat(chunks);
}

/** Writes `data` in chunks of `chunk` bytes, then closes the writable (FIN) unless `keepOpen`. */
export async function writeAll(
  writable: WritableStream<Uint8Array>,
  data: Uint8Array,
  options: { chunk?: number; keepOpen?: boolean } = {},
): Promise<void> {
  const chunk = options.chunk ?? 65536;
  const writer = writable.getWriter();
  for (let off = 0; off < data.length; off += chunk) {
    await writer.write(data.subarray(off, off + chunk));
  }
  if (options.keepOpen) writer.releaseLock();
  else await writer.close();
}

/** Rejects with a clear message when `promise` does not settle within `ms`. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `read()` has returned the same value for `quietMs`. */
export async function settled(read: () => number, quietMs: number, maxMs: number): Promise<number> {
  const start = performance.now();
  let last = read();
  let since = performance.now();
  while (performance.now() - start < maxMs) {
    await new Promise((r) => setTimeout(r, 10));
    const now = read();
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) return now;
  }
  throw new Error(`Value kept changing for ${maxMs} ms (last ${last})`);
}
