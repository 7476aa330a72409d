/**
 * Debounced file-system watching: one callback per burst of changes, with
 * the set of paths that changed.
 *
 * @module
 */

/** A running watch; `close()` stops it and resolves when the watcher is gone. */
export interface Watch {
  /** Stops watching. Idempotent. */
  close(): Promise<void>;
}

/**
 * Watches `paths` (files or folders, recursively unless `recursive` is
 * false: then a folder's own entries only) and calls `onChange` with
 * the changed paths once no event arrived for `debounceMs`. Calls never
 * overlap: changes during a call are delivered in the next one. Errors
 * thrown by `onChange` go to `onError`.
 *
 * @example
 * ```ts
 * const watch = watchPaths(["/etc/burrow/domains"], async (changed) => reload(changed));
 * await watch.close();
 * ```
 */
export function watchPaths(
  paths: string[],
  onChange: (changed: Set<string>) => void | Promise<void>,
  options: { debounceMs?: number; onError?: (e: unknown) => void; recursive?: boolean } = {},
): Watch {
  const debounceMs = options.debounceMs ?? 100;
  const watcher = Deno.watchFs(paths, { recursive: options.recursive ?? true });
  let pending = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> = Promise.resolve();
  let closed = false;

  const flush = () => {
    timer = undefined;
    const changed = pending;
    pending = new Set();
    running = running.then(async () => {
      if (closed) return;
      try {
        await onChange(changed);
      } catch (e) {
        options.onError?.(e);
      }
    });
  };

  const loop = (async () => {
    try {
      for await (const event of watcher) {
        if (event.kind === "access") continue;
        for (const p of event.paths) pending.add(p);
        clearTimeout(timer);
        timer = setTimeout(flush, debounceMs);
      }
    } catch (e) {
      if (!closed) options.onError?.(e);
    }
  })();

  return {
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      try {
        watcher.close();
      } catch {
        // Already closed.
      }
      await loop;
      await running;
    },
  };
}
