/**
 * Burrow's multiplexer: many streams over one connection, speaking the
 * hashicorp/yamux wire format (see `docs/protocol.md`).
 *
 * @example
 * ```ts
 * import { fromWebSocket, Session } from "./shared/mux/mod.ts";
 * const session = new Session(await fromWebSocket(ws), { client: true });
 * const stream = await session.open();
 * const writer = stream.writable.getWriter();
 * await writer.write(new TextEncoder().encode("hello"));
 * await writer.close(); // FIN
 * ```
 *
 * @module
 */

export { type Conn, type ConnSink, Session } from "./session.ts";
export { MuxStream } from "./stream.ts";
export { defaultConfig, type SessionConfig, type SessionOptions, verifyConfig } from "./config.ts";
export { MuxError, type MuxErrorCode, ProtocolError, type ProtocolErrorCode } from "./errors.ts";
export { fromWebSocket } from "../transport/websocket.ts";
export { fromDenoConn } from "../transport/deno_conn.ts";
