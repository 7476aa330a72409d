/**
 * A minimal operator client for tests: dials a server's operator path with a
 * bearer token (`dialWebSocket`) and opens forward streams with
 * `shared/open/`. The real client library is `operator/`; tests of the
 * server's side do not depend on it.
 *
 * @module
 */

import { Session } from "../../shared/mux/mod.ts";
import { type OpenedStream, openStream, StreamKind } from "../../shared/open/mod.ts";
import { OPERATOR_PATH, SUBPROTOCOL } from "../../shared/protocol.ts";
import { dialWebSocket } from "../../shared/transport/dial.ts";

/** An operator connection: its session, and `await using` closes it. */
export interface TestOperator extends AsyncDisposable {
  /** The operator's mux session (client side). */
  session: Session;
  /** Opens a TcpForward (`kind` "forward" or "socks") or, with `udp`, a UdpForward through `agent`. */
  forward(
    agent: string,
    host: string,
    port: number,
    options?: { udp?: boolean; kind?: "forward" | "socks" },
  ): Promise<OpenedStream>;
}

/**
 * Dials `wss://127.0.0.1:<port><OPERATOR_PATH>` trusting `caCert`, with `token`
 * (none when null).
 *
 * @throws {DialError} when the server refuses (401, 403, 426, 503: `status`).
 */
export async function dialOperator(
  port: number,
  token: string | null,
  caCert: string,
): Promise<TestOperator> {
  const dialed = await dialWebSocket(`wss://127.0.0.1:${port}${OPERATOR_PATH}`, {
    protocols: [SUBPROTOCOL],
    caCerts: [caCert],
    ...(token === null ? {} : { headers: { authorization: `Bearer ${token}` } }),
  });
  const session = new Session(dialed.conn, { client: true, foldFlags: true });
  return {
    session,
    forward(agent, host, port, options = {}) {
      return openStream(session, {
        kind: options.udp ? StreamKind.UdpForward : StreamKind.TcpForward,
        params: { agent, host, port, ...(options.kind && { kind: options.kind }) },
      });
    },
    async [Symbol.asyncDispose]() {
      await session.close();
      dialed.close();
      await dialed.closed;
    },
  };
}
