/**
 * The server side of a mux link's WebSocket: `Deno.upgradeWebSocket` with
 * the options every mux upgrade shares (agents, operators).
 *
 * @module
 */

/**
 * Upgrades `req` to a WebSocket speaking `protocol`, without Deno's idle
 * timeout: the mux on it pings on its own (`keepAliveInterval`, closing a
 * session whose ping goes unanswered), and Deno's idle timeout (30 s by
 * default) cancels and creates a timer for every message received, which
 * was ~2% of the server's CPU per channel opened (CPU profile of the
 * published-port connect bench: `createSystemTimer` under the socket's
 * event loop).
 *
 * @throws {TypeError} on a malformed upgrade request (as `Deno.upgradeWebSocket`).
 * @example
 * ```ts ignore
 * const { socket, response } = upgradeMuxSocket(req, SUBPROTOCOL);
 * ```
 */
export function upgradeMuxSocket(req: Request, protocol: string): Deno.WebSocketUpgrade {
  return Deno.upgradeWebSocket(req, { protocol, idleTimeout: 0 });
}
