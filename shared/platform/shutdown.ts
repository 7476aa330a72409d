/**
 * Shutting down a TCP connection Deno no longer lets us close: libc
 * `shutdown(fd, SHUT_RDWR)` on its descriptor, found through `/proc` by its
 * two addresses. Linux only; needs `--allow-ffi` and `--allow-read`.
 *
 * @module
 */

import { openLibc, socketFds } from "./libc.ts";
import { establishedOn } from "./tcp_table.ts";
import { platform } from "./check.ts";

/** `how` for libc `shutdown()`: both directions. */
export const SHUT_RDWR = 2;
/** The libc symbol `shutdown(fd, how)`, for {@linkcode openLibc}. */
export const SHUTDOWN_SYMBOLS = {
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;

/**
 * Shuts down this process's established connection from `local` to
 * `remote`, both ways: the peer sees the end, and pending reads and writes on
 * it fail. Best effort: false when the connection is gone, not ours, or the
 * system or permissions do not allow it.
 *
 * @example
 * ```ts
 * const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
 * shutdownConnection(tcp.localAddr, tcp.remoteAddr); // true
 * ```
 */
export function shutdownConnection(local: Deno.NetAddr, remote: Deno.NetAddr): boolean {
  const { libc, tcpTable } = platform();
  if (!libc || !tcpTable) return false;
  try {
    const peer = `${remote.hostname}:${remote.port}`;
    const found = establishedOn(local).find((c) => c.remote === peer);
    if (found === undefined) return false;
    const fd = socketFds(new Set([found.inode])).get(found.inode);
    if (fd === undefined) return false;
    const libc = openLibc(SHUTDOWN_SYMBOLS);
    try {
      return libc.symbols.shutdown(fd, SHUT_RDWR) === 0;
    } finally {
      libc.close();
    }
  } catch {
    // Not Linux after all, no permission, or the descriptor went away meanwhile.
    return false;
  }
}
