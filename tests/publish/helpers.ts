/**
 * Fixtures for published-port tests: an `OpenChannel` over a real mux
 * session pair whose agent end serves the forward handlers (the port's
 * first bytes sent before the agent's answer, as the server's does), log
 * capture, and socket helpers.
 *
 * @module
 */

import { configure, getLogger, type Logger, type LogRecord, reset } from "@logtape/logtape";
import { memoryPair } from "../../shared/transport/memory.ts";
import { ForwardError, openTcpForward } from "../../shared/forward/mod.ts";
import type { Session } from "../../shared/mux/mod.ts";
import type { ChannelRequest, OpenChannel } from "../../server/agent_directory.ts";
import type { ChannelResult } from "../../server/audit/records.ts";
import { withForwardSessions } from "../forward/helpers.ts";
import { concat } from "../../shared/bytes.ts";

/** A channel's end as the fake records it. */
export interface RecordedEnd {
  result: ChannelResult;
  up: number;
  down: number;
  detail: string | undefined;
}

/** What a published-port test body gets. */
export interface PublishFixture {
  /** Opens channels through the agent session when `request.agent` is online. */
  openChannel: OpenChannel;
  /** Agents that count as connected. Default `db1`. */
  online: Set<string>;
  /** Every request, in order. */
  requests: ChannelRequest[];
  /** Every channel end, in order. */
  ends: RecordedEnd[];
  /** Resolves at the `n`th channel end (1-based). */
  endNumber(n: number): Promise<RecordedEnd>;
  /** Logger whose records land in `records`. */
  log: Logger;
  /** Log records (every level) of `log`. */
  records: LogRecord[];
  /** Rendered messages of `records` at `level`. */
  messages(level?: LogRecord["level"]): string[];
}

/**
 * Runs `body` with an {@linkcode OpenChannel} that opens TcpForward streams
 * over a memory mux pair to an agent session serving the forward handlers
 * (loopback allowed), and a captured logger; tears all down afterwards.
 */
export async function withPublishFixture(
  body: (fixture: PublishFixture) => Promise<void>,
): Promise<void> {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record: LogRecord) => records.push(record) },
    loggers: [
      { category: ["test", "publish"], sinks: ["memory"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
  const [a, b] = memoryPair();
  try {
    await withForwardSessions(a, b, {}, async ({ opener }) => {
      const waiters = new Map<number, PromiseWithResolvers<RecordedEnd>>();
      const waiter = (n: number) => {
        if (!waiters.has(n)) waiters.set(n, Promise.withResolvers<RecordedEnd>());
        return waiters.get(n)!;
      };
      const fixture: PublishFixture = {
        online: new Set(["db1"]),
        requests: [],
        ends: [],
        endNumber: (n) => waiter(n).promise,
        log: getLogger(["test", "publish"]),
        records,
        messages: (level) =>
          records.filter((r) => level === undefined || r.level === level).map(render),
        openChannel: (request, _signal, onOpen) => {
          fixture.requests.push(request);
          return openThrough(opener, fixture, request, onOpen, (end) => {
            fixture.ends.push(end);
            waiter(fixture.ends.length).resolve(end);
          });
        },
      };
      await body(fixture);
    });
  } finally {
    await reset();
  }
}

/** The fake's channel opening: offline unless listed, else a real TcpForward. */
async function openThrough(
  opener: Session,
  fixture: PublishFixture,
  request: ChannelRequest,
  onOpen: Parameters<OpenChannel>[2],
  recordEnd: (end: RecordedEnd) => void,
): ReturnType<OpenChannel> {
  if (!fixture.online.has(request.agent)) {
    return { ok: false, code: "agent-offline", message: `agent ${request.agent} is not connected` };
  }
  try {
    const forward = await openTcpForward(
      opener,
      request.host,
      request.port,
      onOpen === undefined ? {} : { onOpen },
    );
    let ended = false;
    return {
      ok: true,
      stream: forward.stream,
      target: forward.target,
      end(result, bytes, detail) {
        if (ended) throw new Error("end() called twice");
        ended = true;
        recordEnd({ result, up: bytes.up, down: bytes.down, detail });
      },
    };
  } catch (e) {
    if (e instanceof ForwardError) return { ok: false, code: e.code, message: e.message };
    throw e;
  }
}

/** A record's message rendered as text. */
function render(record: LogRecord): string {
  return record.message.map((part) => String(part)).join("");
}

/** Connects to a published port on loopback. */
export function connectTo(addr: Deno.NetAddr): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: addr.hostname, port: addr.port });
}

/**
 * Reads `conn` to its end; null when it was reset (a refusal closes at once,
 * which the kernel may report either way).
 */
export async function readToEnd(conn: Deno.Conn): Promise<Uint8Array | null> {
  const buf = new Uint8Array(64 * 1024);
  const chunks: Uint8Array[] = [];
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      chunks.push(buf.slice(0, n));
    }
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionReset) return null;
    throw e;
  }
  return concat(chunks);
}

/** Writes all of `data` to `conn`. */
export async function writeFull(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
}

/** Text as bytes, and back. */
export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Bytes as text. */
export const str = (b: Uint8Array | null): string =>
  b === null ? "(reset)" : new TextDecoder().decode(b);
