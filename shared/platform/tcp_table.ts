/**
 * The kernel's table of TCP sockets (`/proc/net/tcp` and `/proc/net/tcp6`,
 * Linux), read to find the connections a listener accepted when Deno hands
 * JavaScript no connection object (its HTTP server accepts inside Rust).
 *
 * The table lists every socket of the network namespace; `socketFds`
 * (in `libc.ts`) tells which belong to this process. Addresses are printed
 * the way Deno prints `Deno.NetAddr.hostname` (Rust's `IpAddr` display:
 * `127.0.0.1`, `::1`, `::ffff:127.0.0.1`), so a connection found here and a
 * request's `remoteAddr` meet on the same `host:port` text.
 *
 * @module
 */

/** `st` column value of an established connection. */
const ESTABLISHED = "01";

/** One established TCP connection accepted on a local address. */
export interface TcpConnection {
  /** The peer as `host:port`, `host` printed like `Deno.NetAddr.hostname`. */
  remote: string;
  /** Inode of the socket, to find its file descriptor. */
  inode: number;
}

/**
 * The established connections whose local end is `local` (its port; its
 * address too unless it is `0.0.0.0` or `::`). An IPv6 listener's table is
 * `/proc/net/tcp6`, IPv4 clients of a dual-stack one included.
 *
 * @throws what reading `/proc/net/tcp{,6}` throws (no `--allow-read`, not Linux).
 *
 * @example
 * ```ts
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * establishedOn(listener.addr); // [{ remote: "127.0.0.1:50432", inode: 1055342 }, …]
 * ```
 */
export function establishedOn(local: Deno.NetAddr): TcpConnection[] {
  return parseTable(Deno.readTextFileSync(tableOf(local)), local).connections;
}

/** What one read of the kernel's table found. */
export interface TcpTable {
  /** The established connections on the local address asked about. */
  connections: TcpConnection[];
  /**
   * Sockets the table lists, of every port and state (`TIME_WAIT` included):
   * what the kernel's time to print it grows with.
   */
  sockets: number;
}

/**
 * {@link establishedOn}, with the table read off the JavaScript thread (the
 * kernel takes milliseconds to print it: 2.8 ms for 600 sockets here, 11 ms
 * for 4,600, which a synchronous read would add to every request waiting in
 * that moment), and with the table's size.
 *
 * @throws what reading `/proc/net/tcp{,6}` throws (no `--allow-read`, not Linux).
 */
export async function readTcpTable(local: Deno.NetAddr): Promise<TcpTable> {
  return parseTable(await Deno.readTextFile(tableOf(local)), local);
}

function tableOf(local: Deno.NetAddr): string {
  return local.hostname.includes(":") ? "/proc/net/tcp6" : "/proc/net/tcp";
}

function parseTable(table: string, local: Deno.NetAddr): TcpTable {
  const anyHost = local.hostname === "0.0.0.0" || local.hostname === "::";
  const port = local.port.toString(16).toUpperCase().padStart(4, "0");
  const needle = `:${port} `;
  const found: TcpConnection[] = [];
  // Only the lines naming the port are cut out: the table lists every socket
  // of the host (TIME_WAIT ones too, tens of thousands on a busy server), and
  // splitting all of it into lines held the event loop ~8x longer (2.0 ms
  // against 0.24 ms for 8,100 sockets here; 6.5 ms for 28,700).
  for (let at = table.indexOf(needle); at !== -1;) {
    const start = table.lastIndexOf("\n", at) + 1;
    let end = table.indexOf("\n", at);
    if (end === -1) end = table.length;
    at = table.indexOf(needle, end);
    const line = table.slice(start, end);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const f = line.trim().split(/\s+/);
    const [localHex, localPort] = f[1]?.split(":") ?? [];
    if (localPort !== port || f[3] !== ESTABLISHED || localHex === undefined) continue;
    if (!anyHost && formatHexAddress(localHex) !== local.hostname) continue;
    const [remoteHex, remotePort] = f[2]!.split(":");
    found.push({
      remote: `${formatHexAddress(remoteHex!)}:${parseInt(remotePort!, 16)}`,
      inode: Number(f[9]),
    });
  }
  return { connections: found, sockets: Math.max(0, countLines(table) - 1) }; // less the header
}

/** Lines of `text` (the last one needs no line feed); 0 for an empty text. */
function countLines(text: string): number {
  let lines = 0;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) lines++;
  return text.length > 0 && !text.endsWith("\n") ? lines + 1 : lines;
}

/**
 * Prints an address as `/proc/net/tcp{,6}` writes it (hex of 32-bit words in
 * host byte order; little-endian hosts assumed, as are all Deno's Linux
 * targets) the way Deno prints a `NetAddr.hostname`.
 *
 * @example
 * ```ts
 * formatHexAddress("0100007F"); // "127.0.0.1"
 * formatHexAddress("0000000000000000FFFF00000100007F"); // "::ffff:127.0.0.1"
 * ```
 */
export function formatHexAddress(hex: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 8) {
    const word = parseInt(hex.slice(i, i + 8), 16);
    bytes.push(word & 255, (word >>> 8) & 255, (word >>> 16) & 255, word >>> 24);
  }
  if (bytes.length === 4) return bytes.join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.slice(12).join(".")}`;
  }
  return formatGroups(groups);
}

/** RFC 5952 text of eight 16-bit groups: the first longest run of two or more zeros is `::`. */
function formatGroups(groups: number[]): string {
  let start = 0;
  let length = 0;
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (groups[j] === 0) j++;
    if (j - i > length) [start, length] = [i, j - i];
    i = j + 1;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (length < 2) return hex(groups);
  return `${hex(groups.slice(0, start))}::${hex(groups.slice(start + length))}`;
}
