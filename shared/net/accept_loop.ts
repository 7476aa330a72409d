/**
 * The accept loop of Burrow's own TCP listeners (published ports, the
 * operator's local forwards): accepts until the listener closes or `signal`
 * aborts; a failed accept (out of file descriptors, a connection aborted
 * before it was taken) is reported and retried after
 * {@linkcode ACCEPT_RETRY_MS}, so the port neither goes deaf nor spins.
 *
 * @module
 */

import { sleep } from "../time/backoff.ts";

/** Wait after a failed accept before the next, ms (EMFILE would otherwise spin). */
export const ACCEPT_RETRY_MS = 100;

/** What {@linkcode acceptLoop} does with what it accepts. */
export interface AcceptLoopOptions {
  /** Ends the loop (the caller closes the listener too). */
  signal: AbortSignal;
  /** Takes an accepted connection; owns it from then on. Must not throw. */
  onConn: (conn: Deno.TcpConn) => void;
  /** Told of each failed accept before the retry. */
  onError?: (error: Error) => void;
}

/**
 * Accepts from `listener` until it is closed or `signal` aborts; resolves then.
 *
 * @example
 * ```ts
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const stop = new AbortController();
 * const loop = acceptLoop(listener, { signal: stop.signal, onConn: (c) => closeQuietly(c) });
 * stop.abort();
 * listener.close();
 * await loop;
 * ```
 */
export async function acceptLoop(
  listener: Deno.TcpListener,
  { signal, onConn, onError }: AcceptLoopOptions,
): Promise<void> {
  while (!signal.aborted) {
    let conn: Deno.TcpConn;
    try {
      conn = await listener.accept();
    } catch (e) {
      if (signal.aborted || e instanceof Deno.errors.BadResource) return;
      onError?.(e as Error);
      await sleep(ACCEPT_RETRY_MS, signal);
      continue;
    }
    if (signal.aborted) {
      closeQuietly(conn);
      return;
    }
    onConn(conn);
  }
}

/** Connections {@linkcode closeQuietly} closed: a second call returns at once. */
const closedConns = new WeakSet<Deno.Conn>();

/**
 * Closes `conn`, ignoring that it may be closed already. A connection it
 * closed before is not closed again: `close()` on a closed Deno socket
 * throws BadResource, and building that error (with its stack) cost the
 * published port about 5% of its CPU per connection, since the splice
 * closes the socket and the handler's `finally` closes it again.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * closeQuietly(conn);
 * closeQuietly(conn); // nothing: closed already
 * ```
 */
export function closeQuietly(conn: Deno.Conn): void {
  if (closedConns.has(conn)) return;
  closedConns.add(conn);
  try {
    conn.close();
  } catch {
    // Closed already (by a direct close()).
  }
}
