/**
 * Noticing that a stream died (reset by the peer, or its session gone) while
 * nothing is being written to it.
 *
 * @module
 */

/**
 * Calls `onGone` when the stream is reset or its session dies, while the
 * handler waits for the backend. The writer is held only for this watch and
 * released before the reply is written (`accept()` takes the writable).
 *
 * @example
 * ```ts
 * const watch = watchGone(incoming.writable, () => backend.abort());
 * const response = await fetch(url, { signal: backend.signal });
 * watch.release();
 * await incoming.accept({ status: response.status, headers: [] });
 * ```
 */
export function watchGone(
  writable: WritableStream<Uint8Array>,
  onGone: (e: unknown) => void,
): { release(): void } {
  const writer = writable.getWriter();
  let released = false;
  writer.closed.catch((e) => {
    if (!released) onGone(e);
  });
  return {
    release() {
      if (released) return;
      released = true;
      writer.releaseLock();
    },
  };
}
