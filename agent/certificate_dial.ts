/**
 * The agent's dial of a server's agent-certificate listener
 * (`agentCertificates`): TLS with the agent's client certificate, the mux
 * directly over it (no WebSocket, no Identify stream: the certificate is
 * the identity). Files are read at every dial, so renewed ones are used
 * at the next connection.
 *
 * @module
 */

import { fromDenoConn } from "../shared/transport/deno_conn.ts";
import { type DialedWebSocket, DialError } from "../shared/transport/dial.ts";
import { parseHostPort } from "../shared/net/address.ts";
import { SUBPROTOCOL } from "../shared/protocol.ts";

/** Where and how to dial. */
export interface CertificateDialOptions {
  /** The listener, `host:port`. */
  remote: string;
  /** PEM file of a CA to trust for the server; null for the system's roots. */
  caFile: string | null;
  /** PEM file of the agent's certificate (chain). */
  certFile: string;
  /** PEM file of its private key. */
  keyFile: string;
  /** Longest the dial (TCP and TLS handshake) may take, in ms. */
  timeout: number;
  /** Aborts the dial. */
  signal: AbortSignal;
}

/**
 * Dials the listener once and finishes the TLS handshake; resolves with the
 * connection in the shape the agent's connection loop runs sessions over.
 *
 * @throws {DialError} on a timeout, an abort, or a failed connect or handshake;
 * an Error when a file cannot be read.
 * @example
 * ```ts
 * const dialed = await dialWithCertificate({ remote: "tunnel.example.com:8444", caFile: null,
 *   certFile: "/etc/burrow/agent.pem", keyFile: "/etc/burrow/agent.key", timeout: 10_000, signal });
 * ```
 */
export async function dialWithCertificate(
  options: CertificateDialOptions,
): Promise<DialedWebSocket> {
  const { hostname, port } = parseHostPort(options.remote);
  const read = async (file: string, what: string) => {
    try {
      return await Deno.readTextFile(file);
    } catch (e) {
      throw new Error(`Cannot read ${what} ${file}: ${(e as Error).message}`, { cause: e });
    }
  };
  const [cert, key, ca] = await Promise.all([
    read(options.certFile, "certFile"),
    read(options.keyFile, "keyFile"),
    options.caFile === null ? null : read(options.caFile, "caFile"),
  ]);
  if (options.signal.aborted) throw new DialError("Dial aborted", "aborted");
  const connecting = Deno.connectTls({
    hostname,
    port,
    cert,
    key,
    ...(ca === null ? {} : { caCerts: [ca] }),
  }).then(async (conn) => {
    try {
      await conn.handshake();
      return conn;
    } catch (e) {
      conn.close();
      throw e;
    }
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DialError(`Dial timed out after ${options.timeout} ms`, "timeout")),
      options.timeout,
    );
    onAbort = () => reject(new DialError("Dial aborted", "aborted"));
    options.signal.addEventListener("abort", onAbort, { once: true });
  });
  let conn: Deno.TlsConn;
  try {
    conn = await Promise.race([connecting, stop]);
  } catch (e) {
    // A connection that arrives after the timeout is closed.
    connecting.then((late) => late.close(), () => {});
    if (e instanceof DialError) throw e;
    const code = /certificate|Certificate|UnknownIssuer|BadCertificate/.test(String(e))
      ? "certificate"
      : "connect";
    throw new DialError(`Cannot connect to ${options.remote}: ${(e as Error).message}`, code, {
      cause: e,
    });
  } finally {
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onAbort!);
  }
  const closed = Promise.withResolvers<void>();
  let open = true;
  return {
    conn: fromDenoConn(conn),
    protocol: SUBPROTOCOL,
    close() {
      if (!open) return;
      open = false;
      try {
        conn.close();
      } catch { /* closed already by the session */ }
      closed.resolve();
    },
    closed: closed.promise,
  };
}
