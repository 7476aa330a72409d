/**
 * Certificates per server name on a Deno listener: `Deno.listenTls` reads a
 * resolver `(serverName) => ({ cert, key })` under an unstable symbol option
 * (Deno 2.x; `Deno.serve` ignores it). Deno caches what the resolver returns
 * per server name for the listener's lifetime.
 *
 * @module
 */

/** The symbol `Deno.listenTls` reads a per-connection certificate resolver from (Deno 2.x, unstable). */
export const SNI_RESOLVER = Symbol.for("unstableSniResolver");
