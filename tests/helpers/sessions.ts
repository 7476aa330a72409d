/**
 * A client and a server session over a transport pair, for session tests.
 *
 * @module
 */

import { Session } from "../../shared/mux/mod.ts";
import type { Conn } from "../../shared/transport/conn.ts";
import { within } from "./streams.ts";

/** Runs a client and a server session over `a` and `b`; closes both after `body` (60 s at most). */
export async function sessions(
  a: Conn,
  b: Conn,
  body: (client: Session, server: Session) => Promise<void>,
): Promise<void> {
  const client = new Session(a, { client: true });
  const server = new Session(b, { client: false });
  try {
    await within(60_000, "test body", body(client, server));
  } finally {
    await client.close();
    await server.close();
  }
}
