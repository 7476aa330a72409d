/**
 * The SOCKS5 handshake (RFC 1928) as `burrow socks` speaks it: no
 * authentication only, CONNECT only, IPv4, IPv6 and domain-name targets
 * (names are not resolved here: the agent resolves them). Bounded in bytes
 * (a greeting and a request are at most 519 bytes) and in time.
 *
 * @module
 */

/**
 * Reply codes (RFC 1928 section 6, field REP), and what each answers in
 * Burrow (`docs/operator.md` lists the mapping).
 */
export const SocksReply = {
  /** The agent connected to the target. */
  Succeeded: 0x00,
  /** Anything not listed below. */
  GeneralFailure: 0x01,
  /** The agent's allowlist or the operator's rights refused the target (`policy`, `unauthorized`). */
  NotAllowed: 0x02,
  /** No route to the target from the agent (`unreachable`), or the agent is not connected. */
  NetworkUnreachable: 0x03,
  /** The agent could not resolve the name (`dns`). */
  HostUnreachable: 0x04,
  /** The target refused the connection (`connection-refused`). */
  ConnectionRefused: 0x05,
  /** The agent's connect timed out (`timeout`), as Tor answers a timeout. */
  TtlExpired: 0x06,
  /** BIND, UDP ASSOCIATE or an unknown command: only CONNECT is supported. */
  CommandNotSupported: 0x07,
  /** An address type other than IPv4, IPv6 or domain name. */
  AddressTypeNotSupported: 0x08,
} as const;

/**
 * The SOCKS reply code for a forward error code (the agent's or the server's).
 *
 * @example
 * ```ts
 * socksReplyFor("policy"); // 0x02
 * ```
 */
export function socksReplyFor(code: string): number {
  switch (code) {
    case "policy":
    case "unauthorized":
      return SocksReply.NotAllowed;
    case "unreachable":
    case "agent-offline":
      return SocksReply.NetworkUnreachable;
    case "dns":
      return SocksReply.HostUnreachable;
    case "connection-refused":
      return SocksReply.ConnectionRefused;
    case "timeout":
      return SocksReply.TtlExpired;
    default:
      return SocksReply.GeneralFailure;
  }
}

/** Most bytes of a greeting (2 + 255 methods) plus a request (4 + 1 + 255 + 2). */
export const MAX_HANDSHAKE_BYTES = 257 + 262;

/** A CONNECT request read from a client. */
export interface SocksRequest {
  /** Target: IPv4 or IPv6 address (no brackets), or a name as the client sent it. */
  host: string;
  /** Target port (0 is passed on; the agent refuses it). */
  port: number;
  /** Bytes the client sent after its request, to pass on first. */
  early: Uint8Array;
}

/** The handshake failed: `reply` is the code to answer with, or null to just close. */
export class SocksError extends Error {
  /** Always "SocksError". */
  override name = "SocksError";
  /** REP code to send before closing, or null (the client is not speaking SOCKS5). */
  readonly reply: number | null;

  /** Creates a handshake error. */
  constructor(message: string, reply: number | null) {
    super(message);
    this.reply = reply;
  }
}

/** What the handshake reads from and writes to (a `Deno.Conn`). */
export interface SocksConn {
  /** Reads into `buf`; null at EOF. */
  read(buf: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes`; resolves to how many. */
  write(bytes: Uint8Array): Promise<number>;
}

const COMMANDS: Record<number, string> = { 1: "CONNECT", 2: "BIND", 3: "UDP ASSOCIATE" };

/**
 * Runs the server side of the handshake up to the request: answers the
 * greeting with "no authentication" (or 0xFF when the client does not offer
 * it), then reads and checks the request. The caller answers it with
 * {@linkcode encodeSocksReply}.
 *
 * @throws {SocksError} on anything but a well-formed no-auth CONNECT; when
 * `reply` is set, the caller should send it and close.
 */
export async function readSocksRequest(conn: SocksConn): Promise<SocksRequest> {
  const input = new Input(conn);
  const [version, methods] = await input.take(2);
  if (version !== 5) {
    throw new SocksError(
      version === 4 ? "the client speaks SOCKS4, only SOCKS5 is supported" : "not a SOCKS5 client",
      null,
    );
  }
  const offered = await input.take(methods!);
  if (!offered.includes(0x00)) {
    await writeAll(conn, new Uint8Array([5, 0xff]));
    throw new SocksError("the client offers no method without authentication", null);
  }
  await writeAll(conn, new Uint8Array([5, 0x00]));
  const [v, command, , type] = await input.take(4);
  if (v !== 5) throw new SocksError("not a SOCKS5 request", null);
  if (command !== 1) {
    const name = COMMANDS[command!] ?? `command 0x${command!.toString(16).padStart(2, "0")}`;
    throw new SocksError(`${name} is not supported, only CONNECT`, SocksReply.CommandNotSupported);
  }
  let host: string;
  if (type === 1) host = (await input.take(4)).join(".");
  else if (type === 4) host = ipv6(await input.take(16));
  else if (type === 3) {
    const [length] = await input.take(1);
    host = new TextDecoder().decode(await input.take(length!));
    if (host === "" || /[^\x21-\x7e]/.test(host)) {
      throw new SocksError(
        `invalid domain name ${JSON.stringify(host)}`,
        SocksReply.GeneralFailure,
      );
    }
  } else {
    throw new SocksError(
      `address type ${type} is not supported`,
      SocksReply.AddressTypeNotSupported,
    );
  }
  const [high, low] = await input.take(2);
  return { host, port: (high! << 8) | low!, early: input.rest() };
}

/**
 * A reply to a request: REP `code`, bound address 0.0.0.0:0 (the address the
 * agent connected from is not this machine's and means nothing to the client).
 *
 * @example
 * ```ts
 * encodeSocksReply(SocksReply.Succeeded); // [5, 0, 0, 1, 0, 0, 0, 0, 0, 0]
 * ```
 */
export function encodeSocksReply(code: number): Uint8Array {
  return new Uint8Array([5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
}

/** Writes all of `bytes`. */
export async function writeAll(conn: SocksConn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** 16 bytes as an IPv6 address in its canonical text (no brackets). */
function ipv6(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

/** Buffered reading of exact byte counts, within {@linkcode MAX_HANDSHAKE_BYTES} in all. */
class Input {
  readonly #conn: SocksConn;
  readonly #buf = new Uint8Array(MAX_HANDSHAKE_BYTES + 1024);
  #start = 0;
  #end = 0;

  constructor(conn: SocksConn) {
    this.#conn = conn;
  }

  async take(n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) {
      if (this.#end >= this.#buf.length) {
        throw new SocksError(`handshake longer than ${MAX_HANDSHAKE_BYTES} bytes`, null);
      }
      const got = await this.#conn.read(this.#buf.subarray(this.#end));
      if (got === null) throw new SocksError("the client closed during the handshake", null);
      this.#end += got;
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  rest(): Uint8Array {
    return this.#buf.slice(this.#start, this.#end);
  }
}
