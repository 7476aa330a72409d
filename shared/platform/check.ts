/**
 * One check, at start, of the Deno internals and OS facilities Burrow's
 * workarounds rely on (this folder), and of the Deno version they were
 * measured on. Each missing one has a fallback; the check says which, once,
 * in the system log, and the code that has a fallback reads
 * {@linkcode platform} to pick it:
 *
 * | internal | used by | fallback when missing |
 * | --- | --- | --- |
 * | internal serve loop (`serve_loop.ts`) | server HTTPS | `Deno.serve`, one certificate per listener |
 * | SNI resolver symbol (`sni.ts`) | server HTTPS | one certificate per listener |
 * | raw header list (`raw_headers.ts`) | server proxy | `req.headers` |
 * | libc through FFI (`libc.ts`) | TCP_NODELAY, janitor, agent socket shutdown | Nagle stays on; no janitor |
 * | TCP table (`tcp_table.ts`) | connection janitor | no janitor |
 * | glibc `malloc_trim` (`memory_trim.ts`, checked there) | freed memory back to the OS when quiet | the allocator keeps it |
 *
 * The own WebSocket client (`ws_client.ts`) needs no internal: it runs on
 * `Deno.connect`/`Deno.connectTls` and `node:tls`.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { openLibc } from "./libc.ts";

/** The Deno version the workarounds were written and measured against. */
export const TESTED_DENO = "2.9.6";

/** What this Deno and OS provide, as {@linkcode checkPlatform} found it. */
export interface PlatformStatus {
  /** `Deno.version.deno`. */
  deno: string;
  /** Deno's internal HTTP serving loop (`Deno[Deno.internal].serveHttpOnListener`). */
  serveLoop: boolean;
  /** `Deno.listenTls` reads a certificate resolver under `Symbol.for("unstableSniResolver")`. */
  sniResolver: boolean;
  /** A `Request` keeps an inner request with a raw header list. */
  rawHeaders: boolean;
  /** libc loads over FFI (Linux, `--allow-ffi`). */
  libc: boolean;
  /** The kernel's TCP table is readable (`/proc/net/tcp`: Deno asks `--allow-all` for it). */
  tcpTable: boolean;
}

/** One probe per internal; tests inject their own to force a fallback. */
export type PlatformProbes = { [K in Exclude<keyof PlatformStatus, "deno">]: () => boolean };

/** The probes of this process's Deno and OS. */
export const DEFAULT_PROBES: Readonly<PlatformProbes> = {
  serveLoop() {
    // deno-lint-ignore no-explicit-any
    const d = Deno as any;
    return typeof d[d.internal]?.serveHttpOnListener === "function";
  },
  // Read by `Deno.listenTls` in Deno 2.x; nothing shows it short of a handshake,
  // so the major version stands for it.
  sniResolver: () => Deno.version.deno.startsWith("2."),
  rawHeaders: () =>
    Object.getOwnPropertySymbols(new Request("http://localhost/")).some((s) =>
      s.description === "request"
    ),
  libc() {
    if (Deno.build.os !== "linux") return false;
    try {
      openLibc({}).close();
      return true;
    } catch {
      return false;
    }
  },
  tcpTable() {
    if (Deno.build.os !== "linux") return false;
    try {
      Deno.readTextFileSync("/proc/net/tcp");
      return true;
    } catch {
      return false;
    }
  },
};

/** The TCP table's note; Deno reads `/proc/net/tcp` only with `--allow-all`. */
const NO_TCP_TABLE = "TCP table unreadable (/proc/net/tcp: Linux, run with --allow-all)";

/** Why a cancelled dial may linger, said for the agent. */
const AGENT_DIAL = "a cancelled wss dial waits for the server's TLS answer";

/** Per role, the fallback sentence of each missing internal it uses, in logging order. */
const FALLBACKS: Readonly<Record<string, Partial<Record<keyof PlatformProbes, string>>>> = {
  server: {
    serveLoop: "Deno internal serve loop missing: HTTPS uses Deno.serve, one certificate per " +
      "listener (no SNI)",
    sniResolver: "SNI resolver symbol not supported: using one certificate per listener",
    rawHeaders: "Deno.serve raw headers missing: using req.headers",
    libc: "libc through FFI unavailable (Linux with --allow-ffi): Nagle's algorithm stays on " +
      "for HTTPS connections, and no connection janitor",
    tcpTable: `${NO_TCP_TABLE}: no connection janitor`,
  },
  agent: {
    libc: `libc through FFI unavailable (Linux with --allow-ffi): ${AGENT_DIAL}`,
    tcpTable: `${NO_TCP_TABLE}: ${AGENT_DIAL}`,
  },
};

let current: PlatformStatus | null = null;

/** Runs `probes` (missing ones: {@linkcode DEFAULT_PROBES}). */
export function probePlatform(probes: Partial<PlatformProbes> = {}): PlatformStatus {
  const p = { ...DEFAULT_PROBES, ...probes };
  return {
    deno: Deno.version.deno,
    serveLoop: p.serveLoop(),
    sniResolver: p.sniResolver(),
    rawHeaders: p.rawHeaders(),
    libc: p.libc(),
    tcpTable: p.tcpTable(),
  };
}

/**
 * The sentences to log for `role`: the Deno version when it is not
 * {@linkcode TESTED_DENO}, then one fallback per missing internal the role
 * uses. Empty when everything is there.
 */
export function platformNotes(status: PlatformStatus, role: string): string[] {
  const fallbacks = FALLBACKS[role] ?? {};
  const notes = (Object.keys(fallbacks) as (keyof PlatformProbes)[]).filter((k) => !status[k])
    .map((k) => fallbacks[k]!);
  if (status.deno !== TESTED_DENO) {
    notes.unshift(`Deno ${status.deno} is not the tested ${TESTED_DENO}: internals were probed`);
  }
  return notes;
}

/**
 * Probes once at the start of `role` and logs which fallbacks are in use
 * (one warning each); later calls return the same status without logging.
 *
 * @example
 * ```ts
 * const status = checkPlatform({ role: "server", log: logging.system });
 * if (!status.sniResolver) console.log("one certificate per listener");
 * ```
 */
export function checkPlatform(
  options: { role: string; log?: Logger; probes?: Partial<PlatformProbes> },
): PlatformStatus {
  if (current !== null && options.probes === undefined) return current;
  current = probePlatform(options.probes);
  for (const note of platformNotes(current, options.role)) options.log?.warn(note);
  return current;
}

/** The status in force: from {@linkcode checkPlatform}, else probed now with the defaults. */
export function platform(): PlatformStatus {
  current ??= probePlatform();
  return current;
}

/** Forgets the status, so the next {@linkcode platform} probes again (for tests). */
export function resetPlatform(): void {
  current = null;
}
