/**
 * Noticing that a stream died (reset by the peer, or its session gone) while
 * nothing is being written to it.
 *
 * @module
 */

/** A watch started by {@linkcode watchGone}. */
export interface GoneWatch {
  /** Stops watching. Idempotent. */
  release(): void;
}

/**
 * Calls `onGone` when the stream is reset or its session dies, until
 * `release()`. It watches the stream's `closed` promise, so it holds no lock
 * (releasing a writer's lock costs more than a whole watch) and the stream
 * stays free to write. `closed` also resolves once FINs were both sent and
 * received: release the watch before sending FIN.
 *
 * @example
 * ```ts
 * const watch = watchGone(incoming.stream, () => backend.abort());
 * const response = await fetch(url, { signal: backend.signal });
 * watch.release();
 * await incoming.accept({ status: response.status, headers: [] });
 * ```
 */
export function watchGone(
  stream: { readonly closed: Promise<void> },
  onGone: () => void,
): GoneWatch {
  const watch = new Watch(onGone);
  stream.closed.then(() => watch.fire());
  return watch;
}

class Watch implements GoneWatch {
  #onGone: (() => void) | null;

  constructor(onGone: () => void) {
    this.#onGone = onGone;
  }

  fire(): void {
    const onGone = this.#onGone;
    this.#onGone = null;
    onGone?.();
  }

  release(): void {
    this.#onGone = null;
  }
}
