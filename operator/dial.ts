/**
 * Dialling the operator session: one WebSocket to the server's operator
 * endpoint with the bearer token, Burrow's subprotocol, and a client mux
 * session over it on which every forward, SOCKS connection or UDP flow is a
 * stream. A refused upgrade becomes one clear line.
 *
 * @module
 */

import { Session, type SessionOptions } from "../shared/mux/mod.ts";
import { SUBPROTOCOL } from "../shared/protocol.ts";
import { type DialedWebSocket, DialError, dialWebSocket } from "../shared/transport/dial.ts";
import type { OperatorSettings } from "./settings.ts";

/** Milliseconds between keepalive pings on the operator session: finds a dead link within ~30 s. */
export const OPERATOR_KEEPALIVE_MS = 15_000;

/** Options of {@linkcode dialOperator}. */
export interface DialOperatorOptions {
  /** Milliseconds the dial (TCP, TLS, upgrade) may take. Default 10,000. */
  timeout?: number;
  /** Aborts the dial. */
  signal?: AbortSignal;
  /** Session options beyond those set here (tests). */
  session?: Partial<SessionOptions>;
}

/** A live operator session. */
export interface OperatorSession {
  /** The client mux session: open forward streams on it. */
  session: Session;
  /** The endpoint dialled. */
  server: URL;
  /** Closes the session and the WebSocket; resolves once both are released. */
  close(): Promise<void>;
  /** Resolves once the session ended, by either side (or the link failing). Never rejects. */
  closed: Promise<void>;
}

/** Why the operator session could not be opened. */
export type OperatorDialErrorCode =
  /** 401: the token is missing, wrong, revoked, or this client is rate-limited. */
  | "unauthorized"
  /** 403: the token is good but this client's address is not in the operator's networks. */
  | "forbidden"
  /** 426 or another subprotocol: the server speaks another protocol version. */
  | "version"
  /** Another HTTP answer (404: no operator endpoint at that path, 503: at its limit, ...). */
  | "refused"
  /** The server's certificate was not accepted. */
  | "certificate"
  /** The CA file could not be read. */
  | "ca-file"
  /** No connection: refused, unreachable, timed out, aborted. */
  | "connect";

/**
 * The operator session could not be opened; the message is one line for the
 * operator: `server refused the token (401): check --token-file or BURROW_TOKEN`.
 */
export class OperatorDialError extends Error {
  /** Always "OperatorDialError". */
  override name = "OperatorDialError";
  /** Machine-readable reason. */
  readonly code: OperatorDialErrorCode;
  /** HTTP status of a refused upgrade, when there was one. */
  readonly status: number | undefined;

  /** Creates an operator dial error. */
  constructor(
    message: string,
    code: OperatorDialErrorCode,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }

  /** True for refusals that retrying with the same settings cannot fix (token, address, version, CA file). */
  get permanent(): boolean {
    return this.code !== "connect" && this.code !== "refused";
  }
}

/**
 * Dials the operator endpoint of `settings.server` with its token and opens
 * a client mux session over it (flags folded, keepalive every 15 s).
 *
 * @throws {OperatorDialError} saying why in one line.
 * @example
 * ```ts
 * const op = await dialOperator(await resolveOperatorSettings(flags));
 * const forward = await openTcpForward(op.session, "127.0.0.1", 5432, {
 *   params: { agent: "db1" },
 * });
 * await op.close();
 * ```
 */
export async function dialOperator(
  settings: OperatorSettings,
  options: DialOperatorOptions = {},
): Promise<OperatorSession> {
  const caCerts = await readCa(settings.caFile);
  let dialed: DialedWebSocket;
  try {
    dialed = await dialWebSocket(settings.server.href, {
      protocols: [SUBPROTOCOL],
      headers: { authorization: `Bearer ${settings.token}` },
      ...(caCerts === null ? {} : { caCerts }),
      insecure: settings.insecure,
      timeout: options.timeout ?? 10_000,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (e) {
    throw explainOperatorDial(settings.server, e);
  }
  const session = new Session(dialed.conn, {
    keepAliveInterval: OPERATOR_KEEPALIVE_MS,
    pingTimeout: OPERATOR_KEEPALIVE_MS,
    ...options.session,
    client: true,
    foldFlags: true,
  });
  const closed = Promise.all([session.closed, dialed.closed]).then(() => {});
  // The link ending (server gone, socket error) ends the session, and the reverse.
  session.closed.then(() => dialed.close());
  dialed.closed.then(() => session.close());
  return {
    session,
    server: settings.server,
    closed,
    async close() {
      await session.close();
      dialed.close();
      await closed;
    },
  };
}

async function readCa(caFile: string | null): Promise<string[] | null> {
  if (caFile === null) return null;
  try {
    return [await Deno.readTextFile(caFile)];
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new OperatorDialError(`cannot read the CA file ${caFile}: ${reason}`, "ca-file", {
      cause: e,
    });
  }
}

/**
 * A dial failure as one line for the operator: the HTTP refusals of the
 * operator endpoint named by their meaning, other failures as the dialer
 * worded them.
 *
 * @example
 * ```ts
 * explainOperatorDial(url, new DialError("...", "refused", { status: 401 })).message;
 * // "server refused the token (401): check --token-file, BURROW_TOKEN or BURROW_TOKEN_FILE"
 * ```
 */
export function explainOperatorDial(server: URL, e: unknown): OperatorDialError {
  if (!(e instanceof DialError)) {
    return new OperatorDialError(
      `cannot reach ${server.href}: ${(e as Error)?.message ?? String(e)}`,
      "connect",
      { cause: e },
    );
  }
  const status = e.status;
  const withStatus = status === undefined ? { cause: e } : { cause: e, status };
  if (e.code === "refused" && status === 401) {
    return new OperatorDialError(
      "server refused the token (401): check --token-file, BURROW_TOKEN or BURROW_TOKEN_FILE " +
        "(too many failures from this address also get 401 for a while)",
      "unauthorized",
      withStatus,
    );
  }
  if (e.code === "refused" && status === 403) {
    const body = /\((".*")\)$/.exec(e.message)?.[1];
    const why = body === undefined
      ? "it is outside the networks the operator may use"
      : JSON.parse(body) as string;
    return new OperatorDialError(
      `server refused this client's address (403): ${why}`,
      "forbidden",
      withStatus,
    );
  }
  if ((e.code === "refused" && status === 426) || e.code === "subprotocol") {
    return new OperatorDialError(
      `server does not speak ${SUBPROTOCOL}${status === 426 ? " (426)" : ""}: ` +
        "update burrow on one side",
      "version",
      withStatus,
    );
  }
  if (e.code === "refused" && status === 503) {
    return new OperatorDialError(
      "server is at its limit of operator connections (503): try again later",
      "refused",
      withStatus,
    );
  }
  if (e.code === "refused" && status === 404) {
    return new OperatorDialError(
      `server has no operator endpoint at ${server.pathname} (404): check --server`,
      "refused",
      withStatus,
    );
  }
  const code = e.code === "refused"
    ? "refused"
    : e.code === "certificate"
    ? "certificate"
    : "connect";
  return new OperatorDialError(e.message, code, withStatus);
}
