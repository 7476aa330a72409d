/**
 * One dial of a Burrow server by an agent: the CA file read afresh, the
 * WebSocket dialled with Burrow's subprotocol, a server that speaks another
 * version refused, and dial failures worded for the agent's log.
 *
 * @module
 */

import { type DialedWebSocket, DialError, dialWebSocket } from "../shared/transport/dial.ts";
import { SUBPROTOCOL } from "../shared/protocol.ts";

/** Where and how to dial. */
export interface ServerDialOptions {
  /** Server URL, `wss://<remote><service>`. */
  url: string;
  /** Skip verification of the server's certificate. */
  insecure: boolean;
  /** PEM file of a CA to trust for the server, read at every dial. */
  caFile: string | null;
  /** Longest the dial (TCP, TLS, upgrade) may take, in ms. */
  timeout: number;
  /** Aborts the dial. */
  signal: AbortSignal;
  /** Dialer; tests may replace it. Default {@linkcode dialWebSocket}. */
  dial?: typeof dialWebSocket;
}

/**
 * Dials the server once.
 *
 * @throws {DialError} code `subprotocol` when the server speaks another
 * protocol version; whatever the dialer throws; an Error when `caFile`
 * cannot be read.
 * @example
 * ```ts
 * const dialed = await dialServer({ url, insecure: false, caFile: null, timeout: 10_000, signal });
 * ```
 */
export async function dialServer(options: ServerDialOptions): Promise<DialedWebSocket> {
  const { url, caFile, insecure } = options;
  let caCerts: string[] | undefined;
  if (caFile !== null) {
    try {
      caCerts = [await Deno.readTextFile(caFile)];
    } catch (e) {
      throw new Error(`Cannot read caFile ${caFile}: ${(e as Error).message}`, { cause: e });
    }
  }
  const dial = options.dial ?? dialWebSocket;
  const dialed = await dial(url, {
    protocols: [SUBPROTOCOL],
    ...(caCerts === undefined ? {} : { caCerts }),
    insecure,
    timeout: options.timeout,
    signal: options.signal,
  });
  if (dialed.protocol !== SUBPROTOCOL) {
    dialed.close();
    await dialed.closed;
    throw new DialError(
      `Server at ${url} speaks ${
        dialed.protocol || "no subprotocol"
      }, this agent speaks ${SUBPROTOCOL}`,
      "subprotocol",
    );
  }
  return dialed;
}

/**
 * A dial failure as the agent logs it: a 426 says the server speaks another
 * protocol version.
 *
 * @example
 * ```ts
 * describeDialError(new Error("Connection refused"), url); // "Connection refused"
 * ```
 */
export function describeDialError(e: unknown, url: string): string {
  if (e instanceof DialError && e.code === "refused" && e.status === 426) {
    return `Server at ${url} refused the upgrade (HTTP 426): it does not speak ${SUBPROTOCOL}`;
  }
  return e instanceof Error ? e.message : String(e);
}
