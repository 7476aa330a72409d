/**
 * Connected transport pairs of several kinds, so one test body can run over
 * each: hashicorp/yamux's `testConnTypes`. Every pair is two ends of one
 * connection on this machine (`127.0.0.1`, port 0).
 *
 * @module
 */

import { type Certificates, makeCertificates } from "../../shared/tls/self_signed.ts";
import type { Conn } from "../../shared/transport/conn.ts";
import { fromDenoConn } from "../../shared/transport/deno_conn.ts";
import { memoryPair } from "../../shared/transport/memory.ts";
import { fromWebSocket } from "../../shared/transport/websocket.ts";
import { SUBPROTOCOL } from "../../shared/protocol.ts";

/** Two connected transports and what it takes to release them. */
export type ConnPair = {
  /** The connection type: "memory", "tcp" or "wss". */
  name: string;
  /** One end (the client side, where there is one). */
  a: Conn;
  /** The other end. */
  b: Conn;
  /**
   * Releases every socket, server and client behind the pair and resolves
   * once they are gone. Safe to call after the ends were closed through
   * their streams, and more than once.
   */
  close(): Promise<void>;
};

/** A named way to make a {@linkcode ConnPair}. */
export type ConnType = {
  /** Name shown in test names: `half-close delivers FIN [tcp]`. */
  name: string;
  /** Makes a fresh connected pair. */
  make(): Promise<ConnPair>;
};

/**
 * Every connection type, in order of increasing realism: an in-memory pair,
 * loopback TCP, and a WebSocket over TLS through `Deno.serve`.
 *
 * @example
 * ```ts
 * for (const type of CONN_TYPES) {
 *   const pair = await type.make();
 *   try {
 *     const [, got] = await Promise.all([
 *       pair.a.writable.getWriter().write(new Uint8Array([1, 2, 3])),
 *       pair.b.readable.getReader().read(),
 *     ]);
 *     console.log(type.name, got.value);
 *   } finally {
 *     await pair.close();
 *   }
 * }
 * ```
 */
export const CONN_TYPES: readonly ConnType[] = [
  { name: "memory", make: memoryConnPair },
  { name: "tcp", make: tcpConnPair },
  { name: "wss", make: wssConnPair },
];

/** Options of {@linkcode withConnTypes}. */
export interface WithConnTypesOptions {
  /** Registers the tests as ignored. */
  ignore?: boolean;
  /** Connection types the test does not apply to: no test is registered for them. */
  except?: readonly string[];
}

/**
 * Registers one `Deno.test` per connection type, named `${name} [${type}]`.
 * Each makes a fresh pair, runs `body` with it, and closes the pair whether
 * `body` passed or threw.
 *
 * @example
 * ```ts
 * import { Session } from "../../shared/mux/session.ts";
 *
 * withConnTypes("send small", async ({ a, b }) => {
 *   const client = new Session(a, { client: true });
 *   const server = new Session(b, { client: false });
 *   // …
 *   await Promise.all([client.close(), server.close()]);
 * });
 * ```
 */
export function withConnTypes(
  name: string,
  body: (pair: ConnPair) => Promise<void>,
  options: WithConnTypesOptions = {},
): void {
  for (const type of CONN_TYPES) {
    if (options.except?.includes(type.name)) continue;
    Deno.test({
      name: `${name} [${type.name}]`,
      ignore: options.ignore ?? false,
      async fn() {
        const pair = await type.make();
        try {
          await body(pair);
        } finally {
          await pair.close();
        }
      },
    });
  }
}

function memoryConnPair(): Promise<ConnPair> {
  const [a, b] = memoryPair();
  // Nothing outside the two TransformStreams to release.
  return Promise.resolve({ name: "memory", a, b, close: () => Promise.resolve() });
}

async function tcpConnPair(): Promise<ConnPair> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let client: Deno.TcpConn | undefined;
  let server: Deno.Conn;
  try {
    const accepted = listener.accept();
    client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    server = await accepted;
  } catch (e) {
    client?.close();
    throw e;
  } finally {
    listener.close();
  }
  const conns = [client, server];
  return {
    name: "tcp",
    a: fromDenoConn(client),
    b: fromDenoConn(server),
    close() {
      // Closing a Deno.Conn's writable, or reading its readable to EOF,
      // closes the resource already; a second close throws BadResource.
      for (const conn of conns) closeQuietly(conn);
      return Promise.resolve();
    },
  };
}

let certificates: Promise<Certificates> | undefined;
/** One CA and leaf for `localhost` and `127.0.0.1` per process. */
function testCertificates(): Promise<Certificates> {
  certificates ??= makeCertificates({ hostnames: ["localhost", "127.0.0.1"] });
  return certificates;
}

async function wssConnPair(): Promise<ConnPair> {
  const { caCert, cert, key } = await testCertificates();
  const upgraded = Promise.withResolvers<WebSocket>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    onListen() {}, // Deno.serve logs "Listening on …" without one.
  }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response(null, { status: 426 });
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: SUBPROTOCOL });
    upgraded.resolve(socket);
    return response;
  });
  // The client trusts the test CA through its own HttpClient; nothing global changes.
  const httpClient = Deno.createHttpClient({ caCerts: [caCert] });
  const sockets: WebSocket[] = [];
  const release = async () => {
    for (const ws of sockets) ws.close(1000);
    await Promise.all(sockets.map(closed));
    await server.shutdown();
    httpClient.close();
  };
  try {
    const client = new WebSocket(`wss://localhost:${server.addr.port}/`, {
      protocols: [SUBPROTOCOL],
      client: httpClient,
    });
    sockets.push(client);
    const a = await fromWebSocket(client);
    const accepted = await upgraded.promise;
    sockets.push(accepted);
    const b = await fromWebSocket(accepted);
    if (client.protocol !== SUBPROTOCOL) {
      throw new Error(`Expected subprotocol "${SUBPROTOCOL}", got "${client.protocol}"`);
    }
    let released: Promise<void> | undefined;
    return { name: "wss", a, b, close: () => released ??= release() };
  } catch (e) {
    await release();
    throw e;
  }
}

/** Resolves once `ws` is CLOSED (at once if it is). */
function closed(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.addEventListener("close", () => resolve(), { once: true }));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}
