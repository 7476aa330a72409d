/**
 * The extra time a connection janitor may take on this host. Its sweeps
 * space out with the size of the kernel's TCP table, which lists every
 * socket of the host: other processes' and the TIME_WAIT ones a test suite
 * leaves behind (6,800 on a busy machine: sweeps 3 s apart, not 1 s), so
 * its tests cannot assume a fixed sweep interval.
 *
 * @module
 */

import { sweepSpacing } from "../../server/janitor.ts";

/** Sockets in `/proc/net/tcp` and `/proc/net/tcp6` now (0 where unreadable). */
export function tcpTableSize(): number {
  let sockets = 0;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      sockets += Math.max(0, Deno.readTextFileSync(file).trimEnd().split("\n").length - 1);
    } catch {
      // not Linux, or no IPv6: nothing listed
    }
  }
  return sockets;
}

/**
 * Milliseconds to add to a janitor test's bounds: two sweep spacings (a
 * connection first seen a sweep late, cut a sweep after its deadline) beyond
 * the 1 s interval, for the table as it is now plus half again (it grows
 * while the suite runs).
 *
 * @example
 * ```ts
 * const bound = 6000 + janitorSlack();
 * ```
 */
export function janitorSlack(): number {
  const spacing = sweepSpacing(Math.ceil(tcpTableSize() * 1.5));
  return 2 * Math.max(0, spacing - 1000);
}
