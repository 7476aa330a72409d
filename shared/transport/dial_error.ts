/**
 * Why a dial failed: {@linkcode DialError}, and the sorting of socket and
 * TLS errors (from Deno's TLS or `node:tls`) into its codes.
 *
 * @module
 */

/** Why a dial failed. */
export type DialErrorCode =
  | "timeout"
  | "aborted"
  | "connect"
  | "certificate"
  | "refused"
  | "handshake"
  | "subprotocol";

/**
 * A WebSocket could not be opened. `code` says which step failed; for
 * `"refused"` (the server answered something other than 101), `status` is
 * the HTTP status when it is known.
 *
 * @example
 * ```ts
 * try {
 *   await dialWebSocket(url, { protocols: ["burrow.v1"] });
 * } catch (e) {
 *   if (e instanceof DialError && e.status === 401) console.error("Check the agent token");
 * }
 * ```
 */
export class DialError extends Error {
  /** Always "DialError". */
  override name = "DialError";
  /** Machine-readable reason. */
  readonly code: DialErrorCode;
  /** HTTP status of a refused upgrade, when known. */
  readonly status: number | undefined;
  /** The wait a refusal's `Retry-After` asked for, in ms, when it had one. */
  readonly retryAfter: number | undefined;

  /** Creates a dial error; `options.cause` keeps the underlying error. */
  constructor(
    message: string,
    code: DialErrorCode,
    options: { status?: number; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
  }
}

/** node:tls error codes that mean the server's certificate was not accepted. */
const NODE_CERTIFICATE_ERROR = /CERT|SIGNATURE|ISSUER|SELF_SIGNED/;

/** The node:tls error code of a certificate that does not name the host dialled. */
const NODE_NAME_MISMATCH = "ERR_TLS_CERT_ALTNAME_INVALID";

/**
 * Deno's (rustls's) message for a certificate it did not accept, with the
 * reason: `invalid peer certificate: UnknownIssuer`, `… BadSignature`,
 * `… Expired`, `… certificate not valid for name "x"; …`.
 */
const DENO_CERTIFICATE_ERROR = /^invalid peer certificate: (\w+)/;

/** The start of rustls's reason for a certificate that does not name the host dialled. */
const DENO_NAME_MISMATCH = "certificate not valid for name";

/**
 * Turns an error of a dial to `url` into a {@linkcode DialError} naming the
 * dial: a DialError keeps its code, a certificate the TLS layer refused
 * becomes "certificate" (with what to do about it), anything else "connect".
 *
 * @example
 * ```ts
 * try {
 *   await tls.handshake();
 * } catch (e) {
 *   throw explainDialFailure(url, e);
 * }
 * ```
 */
export function explainDialFailure(url: URL, error: unknown): DialError {
  const detail = error instanceof Error ? error.message : String(error);
  const message = `Cannot dial ${url.href}: ${detail.charAt(0).toLowerCase()}${detail.slice(1)}`;
  if (error instanceof DialError) {
    return new DialError(message, error.code, {
      cause: error,
      ...(error.status ? { status: error.status } : {}),
      ...(error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {}),
    });
  }
  const refusal = certificateRefusal(error, detail);
  if (!refusal) return new DialError(message, "connect", { cause: error });
  const [problem, remedy] = refusal.nameMismatch
    ? [`is not valid for "${url.hostname}"`, "dial a name it lists"]
    : ["is not trusted", "pass its CA certificate"];
  const why = detail.includes(refusal.code) ? detail : `${refusal.code}: ${detail}`;
  return new DialError(
    `Cannot dial ${url.href}: the server's certificate ${problem} (${why}); ` +
      `${remedy}, or dial insecure`,
    "certificate",
    { cause: error },
  );
}

/** The reason code of a certificate refusal (node:tls's or rustls's), or null for other errors. */
function certificateRefusal(
  error: unknown,
  detail: string,
): { code: string; nameMismatch: boolean } | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    if (!NODE_CERTIFICATE_ERROR.test(code)) return null;
    return { code, nameMismatch: code === NODE_NAME_MISMATCH };
  }
  if (!(error instanceof Deno.errors.InvalidData)) return null;
  const reason = DENO_CERTIFICATE_ERROR.exec(detail)?.[1];
  if (reason === undefined) return null;
  const nameMismatch = detail.includes(DENO_NAME_MISMATCH) || reason === "NotValidForName";
  return { code: nameMismatch ? "NotValidForName" : reason, nameMismatch };
}
