/**
 * Typed logging configuration shared by server and agent.
 *
 * @module
 */

/** Where one log goes. */
export type LogSink =
  /** Standard error, one line per record. */
  | { type: "console" }
  /** A file rotated by size, keeping `maxFiles` old files. */
  | { type: "file"; path: string; maxSize: number; maxFiles: number };

/** Logging of one process. */
export interface LogConfig {
  /** Lowest level written to the system log. Default "info". */
  level: "debug" | "info" | "warning" | "error";
  /** System activity log sinks. Default console. */
  system: LogSink[];
  /** Access log sinks (one JSON line per request); empty disables it. Server only. */
  access: LogSink[];
  /** Also log requests to unavailable domains in the access log. Default false. */
  unavailable: boolean;
}
