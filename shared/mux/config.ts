/**
 * Session options: defaults and validation, as two visible steps.
 *
 * @module
 */

import { INITIAL_WINDOW } from "../frame/header.ts";

/** Options of a {@linkcode Session}; all but `client` have defaults. */
export interface SessionOptions {
  /** True for the side that dialled: it opens odd stream ids, the other side even ones. */
  client: boolean;
  /** Inbound streams waiting in `accept()` before new ones are reset; also the most outbound streams awaiting ACK. Default 256. */
  acceptBacklog?: number;
  /** Most concurrent streams, both directions together. Default 4096. */
  maxStreams?: number;
  /** Send a ping every `keepAliveInterval` ms and close the session when one is not answered. Default true. */
  enableKeepAlive?: boolean;
  /** Milliseconds between keepalive pings. Default 30,000. */
  keepAliveInterval?: number;
  /** Milliseconds a ping may wait for its answer. Default 30,000. */
  pingTimeout?: number;
  /** Milliseconds an opened stream may wait for the peer's ACK before it is reset. Default 75,000. */
  openTimeout?: number;
  /** Largest receive window a stream may grow to by auto-tuning, in bytes. Default 16 MiB. */
  maxStreamWindow?: number;
  /** Most bytes all streams of the session may have granted beyond their initial window. Default 64 MiB. */
  maxSessionWindow?: number;
  /** Largest Data payload this side sends in one frame. Default 64 KiB. */
  maxFrameSize?: number;
  /**
   * Largest batch of Data frames written to the transport at once; at least
   * `maxFrameSize` + 12. Default 128 KiB + 64 (two full frames). Measured over
   * loopback wss: 64 KiB frames in 128 KiB batches move 16 streams 10–15%
   * faster than 128 KiB frames in 256 KiB batches; 1 MiB batches halve it.
   */
  maxBatchSize?: number;
  /**
   * Most control frames (pongs, window updates, RSTs, ACKs, refused SYNs)
   * queued beyond the batch being filled while the transport is busy. A
   * stream holds at most one (its updates merge), so only a peer that asks
   * for answers and does not read them gets there: the session then closes
   * with a "peer-not-draining" error and GoAway (protocol error). Default
   * 8192 (96 KiB of frames); at least 16.
   */
  maxQueuedControl?: number;
  /** Milliseconds `close()` waits for queued frames to be written before it drops the transport. Default 2,000. */
  closeTimeout?: number;
  /**
   * Send SYN, ACK and FIN on frames that go out anyway (a stream's first
   * frame, its last unsent frame), as hashicorp/yamux's `sendFlags` does,
   * instead of as WindowUpdates of their own: a stream opened, written and
   * half-closed in one tick costs one frame instead of three. Only for a
   * peer that is Burrow too. Default false, because other implementations
   * mishandle flags on Data frames: hashicorp/yamux handles a FIN on a Data
   * frame before it stores the payload, so a reader waiting on that stream
   * may see EOF and lose the payload; yamux-js 0.2.0 drops the payload of a
   * Data frame carrying SYN and ignores a SYN combined with other flags.
   */
  foldFlags?: boolean;
}

/** Options with every default filled in. */
export type SessionConfig = Required<SessionOptions>;

/** Returns the default options for one side. */
export function defaultConfig(client: boolean): SessionConfig {
  return {
    client,
    acceptBacklog: 256,
    maxStreams: 4096,
    enableKeepAlive: true,
    keepAliveInterval: 30_000,
    pingTimeout: 30_000,
    openTimeout: 75_000,
    maxStreamWindow: 16 * 1024 * 1024,
    maxSessionWindow: 64 * 1024 * 1024,
    maxFrameSize: 64 * 1024,
    maxBatchSize: 128 * 1024 + 64,
    maxQueuedControl: 8192,
    closeTimeout: 2_000,
    foldFlags: false,
  };
}

/**
 * Fills defaults into `options` and validates the result.
 *
 * @throws {RangeError} naming the first option out of range.
 */
export function verifyConfig(options: SessionOptions): SessionConfig {
  const config = { ...defaultConfig(options.client) };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (config as Record<string, unknown>)[key] = value;
  }
  const positive: (keyof SessionConfig)[] = [
    "acceptBacklog",
    "maxStreams",
    "keepAliveInterval",
    "pingTimeout",
    "openTimeout",
    "maxFrameSize",
    "maxBatchSize",
    "closeTimeout",
  ];
  for (const key of positive) {
    const v = config[key] as number;
    if (!Number.isInteger(v) || v <= 0) {
      throw new RangeError(`Session option ${key} must be a positive integer, got ${v}`);
    }
  }
  if (!Number.isInteger(config.maxStreamWindow) || config.maxStreamWindow < INITIAL_WINDOW) {
    throw new RangeError(
      `Session option maxStreamWindow must be at least ${INITIAL_WINDOW}, got ${config.maxStreamWindow}`,
    );
  }
  if (!Number.isInteger(config.maxSessionWindow) || config.maxSessionWindow < 0) {
    throw new RangeError(
      `Session option maxSessionWindow must be a non-negative integer, got ${config.maxSessionWindow}`,
    );
  }
  if (!Number.isInteger(config.maxQueuedControl) || config.maxQueuedControl < 16) {
    throw new RangeError(
      `Session option maxQueuedControl must be an integer of at least 16, got ${config.maxQueuedControl}`,
    );
  }
  if (config.maxBatchSize < config.maxFrameSize + 12) {
    throw new RangeError(
      `Session option maxBatchSize (${config.maxBatchSize}) must be at least maxFrameSize + 12 (${
        config.maxFrameSize + 12
      })`,
    );
  }
  return config;
}
