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
  | { type: "file"; path: string; maxSize: number; maxFiles: number }
  /** Date-named files: `path` holds strftime fields (`%Y%m%d`), local time; old files kept. */
  | { type: "datedFile"; path: string }
  /** A syslog server (RFC 5424 over UDP or TCP). */
  | ({ type: "syslog" } & SyslogTarget);

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

/** Syslog facilities, as `@logtape/syslog` names them. */
export const SYSLOG_FACILITIES = [
  "kernel",
  "user",
  "mail",
  "daemon",
  "security",
  "syslog",
  "lpr",
  "news",
  "uucp",
  "cron",
  "authpriv",
  "ftp",
  "ntp",
  "logaudit",
  "logalert",
  "clock",
  "local0",
  "local1",
  "local2",
  "local3",
  "local4",
  "local5",
  "local6",
  "local7",
] as const;

/** One syslog facility. */
export type SyslogFacility = typeof SYSLOG_FACILITIES[number];

/** Where and how a syslog sink sends. */
export interface SyslogTarget {
  /** Syslog server host. */
  hostname: string;
  /** Its port (514 by default in configs). */
  port: number;
  /** Transport. */
  protocol: "udp" | "tcp";
  /** Facility of every message. */
  facility: SyslogFacility;
  /** APP-NAME of every message. */
  appName: string;
}
