/**
 * Linux helpers for sockets Deno gives no handle to: loading libc over FFI
 * and listing this process's file descriptors (`/proc/self/fd`). Used by
 * `nodelay.ts` (TCP_NODELAY on a listening socket) and `tcp_table.ts`.
 *
 * Needs `--allow-ffi` (libc) and `--allow-read` (`/proc`).
 *
 * @module
 */

/**
 * Loads libc with `symbols`, trying `libc.so.6` then `libc.so`.
 *
 * @throws the error of the last attempt (`Deno.errors.NotCapable` without `--allow-ffi`).
 *
 * @example
 * ```ts
 * const libc = openLibc({ getpid: { parameters: [], result: "i32" } } as const);
 * libc.symbols.getpid();
 * libc.close();
 * ```
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> {
  let last: unknown;
  for (const name of ["libc.so.6", "libc.so"]) {
    try {
      return Deno.dlopen(name, symbols);
    } catch (e) {
      if (isPermissionError(e)) throw e;
      last = e;
    }
  }
  throw last;
}

/** This process's open file descriptors, from `/proc/self/fd`. */
export function openFds(): number[] {
  return [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name))
    .filter(Number.isInteger);
}

/**
 * Maps socket inodes (as `/proc/net/tcp` lists them) to this process's file
 * descriptors: a socket's descriptor links to `socket:[inode]`. Stops reading
 * links once every inode is found; inodes of other processes stay unmapped.
 */
export function socketFds(inodes: ReadonlySet<number>): Map<number, number> {
  const found = new Map<number, number>();
  for (const fd of openFds()) {
    if (found.size === inodes.size) break;
    let link: string;
    try {
      link = Deno.readLinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (e.g. the descriptor of the directory listing)
    }
    if (!link.startsWith("socket:[")) continue;
    const inode = Number(link.slice(8, -1));
    if (inodes.has(inode)) found.set(inode, fd);
  }
  return found;
}

/** True for the errors a missing `--allow-ffi`/`--allow-read` permission raises. */
export function isPermissionError(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
}
