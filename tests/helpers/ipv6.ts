/**
 * Whether this machine has an IPv6 loopback, for the tests that use `::1`.
 * Not every CI machine has one: a Docker container attached only to IPv4
 * networks gets `net.ipv6.conf.all.disable_ipv6=1`, so `::1` cannot be bound
 * (EADDRNOTAVAIL) while /etc/hosts may still map `localhost` to it.
 *
 * @module
 */

/** Whether `::1` can be bound here. */
export const HAS_IPV6_LOOPBACK: boolean = canBindIpv6Loopback();

/** The loopback addresses a test can use here: `127.0.0.1`, and `::1` where there is one. */
export const LOOPBACKS: readonly string[] = HAS_IPV6_LOOPBACK
  ? ["127.0.0.1", "::1"]
  : ["127.0.0.1"];

/**
 * Test options for a test about IPv6 itself: ignored (and so counted as
 * ignored in the summary) where there is no `::1`.
 *
 * @example
 * ```ts
 * Deno.test("an IPv6 published port …", needsIpv6Loopback, async () => {});
 * ```
 */
export const needsIpv6Loopback: { ignore: boolean } = { ignore: !HAS_IPV6_LOOPBACK };

function canBindIpv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}
