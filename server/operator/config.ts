/**
 * The server main file's `operators` keys: how many operator connections
 * the server holds and how many channels one may run. Documented in
 * `docs/config.md` ("Operators"). The path operators dial is the top-level
 * `operatorPath` key, read with the other paths in `server/config.ts`.
 *
 * @module
 */

import type { ObjectReader } from "../../shared/config/fields.ts";

/** Defaults and bounds of the `operators` keys. */
export const OPERATOR_LIMITS = {
  maxConnections: { default: 256, min: 1, max: 100_000 },
  maxStreams: { default: 256, min: 1, max: 4000 },
} as const;

/** The `operators` section, validated. */
export interface OperatorLimits {
  /**
   * Most operator connections (mux sessions) open at once, all operators
   * together; an authenticated operator over it gets 503. Default 256.
   */
  maxConnections: number;
  /**
   * Most channels (TcpForward/UdpForward streams) one operator connection
   * may have open at once; more are answered ERROR `busy`. Default 256.
   */
  maxStreams: number;
}

/**
 * Reads the `operators` section (absent: every default).
 *
 * @throws {ConfigError} at the first value out of bounds or unknown key.
 * @example
 * ```ts
 * import { JsoncDocument } from "../../shared/config/jsonc.ts";
 * import { ObjectReader } from "../../shared/config/fields.ts";
 * import { parseOperatorLimits } from "./config.ts";
 * const doc = JsoncDocument.parse("s.jsonc", '{ "operators": { "maxStreams": 64 } }');
 * parseOperatorLimits(ObjectReader.root(doc).object("operators")); // { maxConnections: 256, maxStreams: 64 }
 * ```
 */
export function parseOperatorLimits(r: ObjectReader): OperatorLimits {
  const limits: OperatorLimits = {
    maxConnections: r.int("maxConnections", OPERATOR_LIMITS.maxConnections),
    maxStreams: r.int("maxStreams", OPERATOR_LIMITS.maxStreams),
  };
  r.finish();
  return limits;
}
