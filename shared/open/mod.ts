/**
 * Typed stream opening: the first bytes of every stream name its kind and
 * parameters; the acceptor answers OK or ERROR before payload flows.
 *
 * @module
 */

export * from "./message.ts";
export {
  type MessageSource,
  readOpen,
  type ReadOptions,
  readReply,
  readTextReply,
  type ReceivedOpen,
} from "./read.ts";
export {
  type IncomingStream,
  type OpenedStream,
  openStream,
  serveStream,
  type StreamHandler,
} from "./dispatch.ts";
