/**
 * The admin API's client: `GET https://<server>/.well-known/burrow-admin/v1/<listing>`
 * with the operator's bearer token, one page at a time, and every way it
 * can fail as one {@linkcode AdminClientError} line for the operator.
 *
 * The server is the operator settings' (`wss://` is asked as `https://`,
 * `ws://` as `http://`; only the host and port count). A `caFile` is
 * trusted besides the default roots through `fetch` with
 * `Deno.createHttpClient({ caCerts })`. Deno's `fetch` cannot skip
 * certificate checks per request (only the process-wide
 * `--unsafely-ignore-certificate-errors`), so an `insecure` request runs
 * over `node:https` with `rejectUnauthorized: false`, loaded only then.
 *
 * @module
 */

import { ADMIN_PATH } from "../shared/protocol.ts";
import type { OperatorSettings } from "./settings.ts";

/** The listings of the admin API. */
export type AdminListing = "agents" | "sessions" | "channels" | "audit";

/** One page as the server sends it: `items`, and the cursor of the next page (null on the last). */
export interface AdminPage {
  /** The rows. */
  items: Record<string, unknown>[];
  /** `before` (or `after` for agents) of the next page; null on the last one. */
  next: string | number | null;
}

/** Why an admin request failed. */
export type AdminErrorCode =
  /** 401: the token is missing, wrong, revoked, or this address is rate-limited. */
  | "unauthorized"
  /** 403: the operator may not use the admin API (kind or networks). */
  | "forbidden"
  /** 400: a parameter the server refused (`param` names it). */
  | "bad-param"
  /** 503: the server keeps no audit. */
  | "audit-off"
  /** Any other answer (404 from a server without the admin API, 5xx, not JSON). */
  | "refused"
  /** The server's certificate was not accepted. */
  | "certificate"
  /** The CA file could not be read. */
  | "ca-file"
  /** No answer: refused, unreachable, timed out. */
  | "connect";

/** An admin request failed; the message is one line for the operator. */
export class AdminClientError extends Error {
  /** Always "AdminClientError". */
  override name = "AdminClientError";
  /** Machine-readable reason. */
  readonly code: AdminErrorCode;
  /** The HTTP status, when the server answered. */
  readonly status: number | undefined;

  /** Creates an admin client error. */
  constructor(
    message: string,
    code: AdminErrorCode,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }
}

/** An HTTP answer, read whole. */
interface Answer {
  status: number;
  text: string;
}

/** Milliseconds a request may take. */
const TIMEOUT_MS = 30_000;

/**
 * Pages of the admin API of one server. Close it when done (it holds an
 * HTTP client with the CA).
 *
 * @example
 * ```ts ignore
 * await using admin = await AdminClient.open(await resolveOperatorSettings(flags));
 * const page = await admin.page("sessions", new URLSearchParams({ agent: "db1", limit: "20" }));
 * ```
 */
export class AdminClient {
  readonly #settings: OperatorSettings;
  readonly #base: URL;
  readonly #http: Deno.HttpClient | null;

  private constructor(settings: OperatorSettings, http: Deno.HttpClient | null) {
    this.#settings = settings;
    this.#http = http;
    const scheme = settings.server.protocol === "ws:" || settings.server.protocol === "http:"
      ? "http:"
      : "https:";
    this.#base = new URL(`${scheme}//${settings.server.host}${ADMIN_PATH}/`);
  }

  /**
   * A client for `settings`' server, reading its CA file now.
   *
   * @throws {AdminClientError} code `ca-file` when the CA file cannot be read.
   */
  static async open(settings: OperatorSettings): Promise<AdminClient> {
    if (settings.insecure || settings.caFile === null) return new AdminClient(settings, null);
    let ca: string;
    try {
      ca = await Deno.readTextFile(settings.caFile);
    } catch (e) {
      throw new AdminClientError(
        `cannot read the CA file ${settings.caFile}: ${(e as Error).message}`,
        "ca-file",
        { cause: e },
      );
    }
    return new AdminClient(settings, Deno.createHttpClient({ caCerts: [ca] }));
  }

  /** The URL of `listing` with `params`. */
  url(listing: AdminListing, params: URLSearchParams = new URLSearchParams()): URL {
    const url = new URL(listing, this.#base);
    url.search = params.toString();
    return url;
  }

  /**
   * One page of `listing`.
   *
   * @throws {AdminClientError} for any answer but 200 with a page, or no answer.
   */
  async page(listing: AdminListing, params?: URLSearchParams): Promise<AdminPage> {
    const url = this.url(listing, params);
    const answer = this.#settings.insecure && url.protocol === "https:"
      ? await insecureGet(url, this.#settings.token)
      : await this.#fetch(url);
    return readPage(url, answer);
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#http?.close();
  }

  /** Closes at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  async #fetch(url: URL): Promise<Answer> {
    try {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${this.#settings.token}`, accept: "application/json" },
        signal: AbortSignal.timeout(TIMEOUT_MS),
        ...(this.#http !== null && { client: this.#http }),
      });
      return { status: res.status, text: await res.text() };
    } catch (e) {
      throw unreachable(url, e);
    }
  }
}

/** A GET that does not check the server's certificate (node:https, loaded on first use). */
async function insecureGet(url: URL, token: string): Promise<Answer> {
  const { request } = await import("node:https");
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const req = request(url, {
        method: "GET",
        rejectUnauthorized: false,
        headers: { authorization: `Bearer ${token}`, accept: "application/json" },
        timeout: TIMEOUT_MS,
      }, (res) => {
        const chunks: Uint8Array[] = [];
        res.on("data", (chunk: Uint8Array) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            text: new TextDecoder().decode(concat(chunks)),
          }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
      req.on("error", reject);
      req.end();
    });
  } catch (e) {
    throw unreachable(url, e);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The error of a request that got no answer. */
function unreachable(url: URL, e: unknown): AdminClientError {
  const detail = [e, (e as Error)?.cause].map((x) => x instanceof Error ? x.message : "")
    .filter((m) => m !== "").join(": ");
  if (/invalid peer certificate|certificate/i.test(detail)) {
    return new AdminClientError(
      `the server's certificate at ${url.origin} is not trusted (${detail}); ` +
        "pass --ca-file with its CA, or --insecure",
      "certificate",
      { cause: e },
    );
  }
  return new AdminClientError(`cannot reach ${url.origin}: ${detail}`, "connect", { cause: e });
}

/** The page of a 200, or the error the answer means. */
function readPage(url: URL, answer: Answer): AdminPage {
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    body = null;
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const message = typeof error?.message === "string" ? error.message : null;
  const status = answer.status;
  if (status === 200 && isPage(body)) return body;
  if (status === 401) {
    throw new AdminClientError(
      "the server refused the token (401): check --token-file or BURROW_TOKEN " +
        "(a wrong token, or too many failures from this address)",
      "unauthorized",
      { status },
    );
  }
  const line = message === null ? "" : `: ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
  if (status === 403) throw new AdminClientError(`refused (403)${line}`, "forbidden", { status });
  if (status === 400) {
    throw new AdminClientError(`bad request (400)${line}`, "bad-param", { status });
  }
  if (status === 503 && error?.code === "audit-off") {
    throw new AdminClientError(`unavailable (503)${line}`, "audit-off", { status });
  }
  const why = status === 404 && message === null
    ? ": no admin API there (not a Burrow server, or an older one)"
    : status === 200
    ? ": the answer is not a page of the admin API"
    : line;
  throw new AdminClientError(`${url.href} answered ${status}${why}`, "refused", { status });
}

function isPage(body: unknown): body is AdminPage {
  const page = body as AdminPage | null;
  return typeof page === "object" && page !== null && Array.isArray(page.items) &&
    (page.next === null || typeof page.next === "number" || typeof page.next === "string");
}
