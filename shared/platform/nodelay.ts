/**
 * TCP_NODELAY for sockets Deno gives no handle to: the connections a
 * `Deno.listenTls` listener accepts (Deno 2.9.6 leaves Nagle's algorithm on
 * there and has no `setNoDelay` on `TlsConn`).
 *
 * On Linux an accepted TCP socket starts as a copy of its listening socket,
 * TCP_NODELAY included, so setting the option once on the listening socket
 * covers every connection it accepts afterwards. Deno does not expose the
 * listener's file descriptor either: {@link setListenerNoDelay} finds it among
 * the process's descriptors (`/proc/self/fd`) as the listening socket bound to
 * the port, and sets the option through libc over FFI.
 *
 * Needs `--allow-ffi` and `--allow-read` (for `/proc/self/fd`); Linux only.
 *
 * @module
 */

import { isPermissionError, openFds, openLibc } from "./libc.ts";

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const SOL_SOCKET = 1;
const SO_ACCEPTCONN = 30;
const AF_INET = 2;
const AF_INET6 = 10;
/** Room for a `sockaddr_in6` (28 bytes) with margin. */
const SOCKADDR_SIZE = 128;

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Why TCP_NODELAY could not be set: unsupported OS, missing permission, or no such socket. */
export class NoDelayError extends Error {
  override name = "NoDelayError";
  /** `"unsupported"`, `"permission"`, `"not-found"` or `"failed"`. */
  readonly code: "unsupported" | "permission" | "not-found" | "failed";

  /** Makes an error with a machine-readable `code`. */
  constructor(code: NoDelayError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Sets TCP_NODELAY on this process's listening TCP sockets bound to `port`
 * (IPv4 or IPv6, any address), so the connections they accept from now on
 * send small writes at once. Call it right after creating the listener,
 * before it accepts. Returns the file descriptors changed.
 *
 * @throws {NoDelayError} when not on Linux, without `--allow-ffi`/`--allow-read`,
 *   or when no listening socket is bound to `port`.
 *
 * @example
 * ```ts
 * const listener = Deno.listenTls({ port: 8443, cert, key });
 * setListenerNoDelay(listener.addr.port);
 * ```
 */
export function setListenerNoDelay(port: number): number[] {
  if (Deno.build.os !== "linux") {
    throw new NoDelayError("unsupported", `Cannot set TCP_NODELAY on ${Deno.build.os}`);
  }
  const fds = attempt("Cannot list /proc/self/fd", openFds);
  const lib = attempt("Cannot load libc", () => openLibc(SYMBOLS));
  try {
    const changed = fds.filter((fd) => isListeningOn(lib.symbols, fd, port));
    if (changed.length === 0) {
      throw new NoDelayError("not-found", `Cannot find a listening socket on port ${port}`);
    }
    for (const fd of changed) setNoDelay(lib.symbols, fd);
    return changed;
  } finally {
    lib.close();
  }
}

function isListeningOn(libc: Libc, fd: number, port: number): boolean {
  const addr = new Uint8Array(SOCKADDR_SIZE);
  const len = new Uint32Array([SOCKADDR_SIZE]);
  if (libc.getsockname(fd, addr, len) !== 0) return false;
  const family = addr[0]! | (addr[1]! << 8);
  if (family !== AF_INET && family !== AF_INET6) return false;
  if (((addr[2]! << 8) | addr[3]!) !== port) return false;
  return getOption(libc, fd, SOL_SOCKET, SO_ACCEPTCONN) === 1;
}

function setNoDelay(libc: Libc, fd: number): void {
  const one = new Int32Array([1]);
  if (
    libc.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4) !== 0 ||
    getOption(libc, fd, IPPROTO_TCP, TCP_NODELAY) !== 1
  ) {
    throw new NoDelayError("failed", `Cannot set TCP_NODELAY on file descriptor ${fd}`);
  }
}

function getOption(libc: Libc, fd: number, level: number, name: number): number | null {
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  return libc.getsockopt(fd, level, name, value, len) === 0 ? value[0]! : null;
}

/** Runs `f`, turning what it throws into a {@link NoDelayError} saying `what` failed. */
function attempt<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const message = `${what}: ${e instanceof Error ? e.message : String(e)}`;
    const code = isPermissionError(e) ? "permission" : "failed";
    throw new NoDelayError(code, message, { cause: e });
  }
}
