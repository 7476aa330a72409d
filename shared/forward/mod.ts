/**
 * Forward streams, TcpForward (`0x10`) and UdpForward (`0x11`): their open
 * parameters, the datagram framing, the opener's side, and splicing.
 *
 * @module
 */

export * from "./target.ts";
export * from "./datagram.ts";
export * from "./open.ts";
export * from "./splice.ts";
