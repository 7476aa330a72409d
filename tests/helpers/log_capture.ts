/**
 * Captures the warnings (and worse) of the e2e world's server logger, for
 * tests that check what the server logs and how often.
 *
 * @module
 */

import { configure, type LogRecord, reset } from "@logtape/logtape";

/** The records captured, and a way to stop capturing (resets LogTape). */
export interface CapturedLog {
  /** Records at WARN or above, in order. */
  records: LogRecord[];
  /** Their messages, rendered. */
  messages(): string[];
  /** Resets LogTape's configuration. */
  stop(): Promise<void>;
}

/**
 * Routes the records of `category` (default the e2e world's server logger)
 * at WARN and above into memory.
 *
 * @example
 * ```ts
 * const log = await captureWarnings();
 * try { ... } finally { await world.close(); await log.stop(); }
 * log.messages(); // ["Agent at 127.0.0.1 refused: …"]
 * ```
 */
export async function captureWarnings(
  category: string[] = ["burrow-test", "server"],
): Promise<CapturedLog> {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category, sinks: ["memory"], lowestLevel: "warning" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
  return {
    records,
    messages: () => records.map((r) => r.message.map((part) => String(part)).join("")),
    stop: () => reset(),
  };
}
