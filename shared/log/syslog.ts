/**
 * The syslog sink: RFC 5424 messages over UDP or TCP, through
 * `@logtape/syslog`, with each record's text rendered by Burrow's own
 * formatters. A syslog server that is down never fails the caller: the
 * failure is reported once a minute on standard error and the next record
 * tries again with a fresh connection.
 *
 * @module
 */

import type { LogRecord, Sink } from "@logtape/logtape";
import { getSyslogSink } from "@logtape/syslog";
import type { SyslogTarget } from "./config_types.ts";

/** How often a failing syslog server is reported on standard error (ms). */
const REPORT_EVERY_MS = 60_000;

/** The internal promise `@logtape/syslog` chains sends on (to see a failed send). */
type LibrarySink = Sink & AsyncDisposable & { readonly _internal_lastPromise?: Promise<void> };

/**
 * A sink sending each record to a syslog server, its text made by
 * `formatter` (without a trailing newline; syslog adds time and host).
 *
 * @example
 * ```ts
 * import { syslogSink } from "./syslog.ts";
 * const sink = syslogSink(
 *   { hostname: "127.0.0.1", port: 514, protocol: "udp", facility: "daemon", appName: "burrow" },
 *   (record) => String(record.message[0]),
 * );
 * ```
 */
export function syslogSink(
  target: SyslogTarget,
  formatter: (record: LogRecord) => string,
): Sink & AsyncDisposable {
  const make = () =>
    getSyslogSink({
      hostname: target.hostname,
      port: target.port,
      protocol: target.protocol,
      facility: target.facility,
      appName: target.appName,
    }) as unknown as LibrarySink;
  let inner = make();
  let lastReport = -Infinity;
  const failed = (broken: LibrarySink, error: unknown) => {
    // A failed send leaves the library's chain rejected for good: start a fresh sink.
    if (broken === inner) {
      inner = make();
      Promise.resolve(broken[Symbol.asyncDispose]()).catch(() => {});
    }
    const now = Date.now();
    if (now - lastReport < REPORT_EVERY_MS) return;
    lastReport = now;
    const where = `${target.protocol}://${target.hostname}:${target.port}`;
    const line = `burrow: syslog ${where}: ${(error as Error)?.message ?? String(error)}\n`;
    try {
      Deno.stderr.writeSync(new TextEncoder().encode(line));
    } catch {
      // Nowhere left to say it.
    }
  };
  const sink = (record: LogRecord) => {
    const text = formatter(record).replace(/\n$/, "");
    const current = inner;
    current({ ...record, message: [text], rawMessage: text, properties: {} });
    current._internal_lastPromise?.catch((e) => failed(current, e));
  };
  return Object.assign(sink, {
    [Symbol.asyncDispose]: async () => {
      await inner._internal_lastPromise?.catch(() => {});
      await inner[Symbol.asyncDispose]();
    },
  });
}
