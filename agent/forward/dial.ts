/**
 * Where a forward goes: the target's name resolved once (system resolver),
 * every address checked against the allowlist, and the TCP dial made to an
 * allowed ADDRESS, never to the name again, so a second DNS answer cannot
 * lead the connection elsewhere (no DNS-rebinding detour).
 *
 * @module
 */

import { isIpAddress } from "../../shared/net/cidr.ts";
import { formatHostPort, ForwardError, type ForwardTarget } from "../../shared/forward/target.ts";
import type { Allowlist } from "./allowlist.ts";

/** Resolves a name to its addresses (IPv4 and IPv6, in the resolver's order). */
export type Lookup = (name: string) => Promise<string[]>;

/** What {@linkcode resolveTarget} and {@linkcode dialTcp} need. */
export interface DialOptions {
  /** The agent's allowlist. */
  allowlist: Allowlist;
  /** Longest name lookup, and longest TCP connect, in ms. */
  connectTimeout: number;
  /** Name resolver; default the system's (getaddrinfo, so `/etc/hosts` counts). */
  lookup?: Lookup;
}

/**
 * The system resolver: every address of `name`. `node:dns/promises` is
 * loaded on the first lookup, not at the agent's start (Deno's Node layer:
 * MBs of RSS for agents that forward nothing).
 */
export async function systemLookup(name: string): Promise<string[]> {
  const { lookup: dnsLookup } = await import("node:dns/promises");
  const found = await dnsLookup(name, { all: true, verbatim: true });
  return found.map((a) => a.address);
}

/** Races `promise` against `ms`; on timeout throws a ForwardError "timeout" and hands a late value to `late`. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  late: (value: T) => void = () => {},
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new ForwardError(`${what} timed out after ${ms} ms`, "timeout"));
    }, ms);
  });
  promise.then((v) => timedOut && late(v), () => {});
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The addresses of `target` that the allowlist lets through, in resolver
 * order: the literal itself for an IP, else the name's addresses (looked
 * up once).
 *
 * @throws {ForwardError} `dns` when the name does not resolve, `policy` when
 * no address is allowed ("refused by agent policy: 169.254.169.254:80 is cloud metadata").
 */
export async function resolveTarget(
  target: ForwardTarget,
  options: DialOptions,
): Promise<string[]> {
  const { host, port } = target;
  let addresses: string[];
  let name: string | undefined;
  if (isIpAddress(host)) addresses = [host];
  else {
    name = host.toLowerCase().replace(/\.$/, "");
    const lookup = options.lookup ?? systemLookup;
    try {
      addresses = await within(lookup(name), options.connectTimeout, `Resolving ${name}`);
    } catch (e) {
      if (e instanceof ForwardError) throw e;
      const code = (e as { code?: string }).code ?? (e as Error).message;
      throw new ForwardError(`cannot resolve ${name} on the agent (${code})`, "dns");
    }
    if (addresses.length === 0) {
      throw new ForwardError(`cannot resolve ${name} on the agent (no address)`, "dns");
    }
  }
  const allowed: string[] = [];
  let firstReason = "";
  for (const address of addresses) {
    const verdict = options.allowlist.check(address, port, name);
    if (verdict.allowed) allowed.push(address);
    else firstReason ||= verdict.reason;
  }
  if (allowed.length === 0) {
    throw new ForwardError(`refused by agent policy: ${firstReason}`, "policy");
  }
  return allowed;
}

/** Maps a failed connect to a forward error naming the address. */
function connectError(e: unknown, where: string): ForwardError {
  if (e instanceof ForwardError) return e;
  if (e instanceof Deno.errors.ConnectionRefused) {
    return new ForwardError(`connection refused by ${where}`, "connection-refused");
  }
  const message = (e as Error).message ?? String(e);
  if (e instanceof Deno.errors.NetworkUnreachable || /unreachable/i.test(message)) {
    return new ForwardError(`${where} is unreachable from the agent (${message})`, "unreachable");
  }
  return new ForwardError(`cannot connect to ${where}: ${message}`, "connect-failed");
}

/**
 * Connects to the first of `addresses` that accepts, each within the
 * connect timeout; the error of the last one when none does.
 *
 * @throws {ForwardError} `connection-refused`, `unreachable`, `timeout` or `connect-failed`.
 */
export async function dialTcp(
  addresses: readonly string[],
  port: number,
  options: Pick<DialOptions, "connectTimeout">,
): Promise<Deno.TcpConn> {
  let last: ForwardError | null = null;
  for (const address of addresses) {
    const where = formatHostPort(address, port);
    try {
      const conn = await within(
        Deno.connect({ hostname: address, port, transport: "tcp" }),
        options.connectTimeout,
        `Connecting to ${where}`,
        (conn) => conn.close(),
      );
      // Interactive traffic (ssh) must not wait for Nagle; the mux batches bulk data already.
      conn.setNoDelay(true);
      conn.setKeepAlive(true);
      return conn;
    } catch (e) {
      last = connectError(e, where);
    }
  }
  throw last ?? new ForwardError(`no address to connect to on port ${port}`, "connect-failed");
}
