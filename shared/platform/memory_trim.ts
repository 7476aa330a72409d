/**
 * Gives the heap memory glibc keeps after a burst of load back to the
 * operating system once the process is quiet.
 *
 * Deno allocates with glibc's `malloc` (ArrayBuffer backing stores, TLS and
 * socket buffers, V8's own tables). When a load ends and those are freed,
 * glibc keeps the free pages for reuse: after a `wrk -c200` soak an agent
 * stayed at about 140 MB RSS with a 10 MB V8 heap, and `malloc_trim(0)` took
 * it to 79 MB (server: 92 to 80 MB). So a timer checks every
 * {@linkcode MemoryTrimOptions.intervalMs}: when the process used almost no
 * CPU during the last interval, glibc holds free memory, and the process
 * worked or freed more since the last trim ({@linkcode shouldTrim}), it calls
 * `malloc_trim(0)` (about 30 ms for 60 MB; a few times per quiet spell, as
 * V8 frees its garbage, never under load).
 *
 * Linux with glibc only (libc over FFI: `--allow-ffi`, `/proc/self/stat`:
 * `--allow-read`); elsewhere {@linkcode startMemoryTrim} says why it does
 * nothing and the process keeps what the allocator keeps.
 *
 * @module
 */

import { openLibc } from "./libc.ts";

/** Options of {@linkcode startMemoryTrim}. */
export interface MemoryTrimOptions {
  /** Milliseconds between checks; default 10 000. */
  intervalMs?: number;
  /** Free bytes beyond those already returned that make a trim worth it; default 4 MiB. */
  minFreeBytes?: number;
  /** Largest share of one core used during an interval that still counts as quiet; default 0.05. */
  maxCpuShare?: number;
  /**
   * CPU seconds used since the last trim after which free memory is trimmed
   * again even if glibc's count of it did not grow (a burst that reused the
   * returned pages and freed them again between two checks); default 1.
   */
  minBusySeconds?: number;
  /** Called after each trim with the free bytes glibc held and the ms it took. */
  onTrim?: (freeBytes: number, ms: number) => void;
}

/** A running trimmer, or why there is none. */
export interface MemoryTrim extends Disposable {
  /** `null` when trimming runs; otherwise why it cannot here (not Linux/glibc, no permission). */
  readonly unavailable: string | null;
  /** Trims done so far. */
  readonly trims: number;
  /** Stops the timer and closes libc. Safe to call twice. */
  stop(): void;
}

/** glibc's allocator, as far as trimming needs it. */
export interface Malloc {
  /** Bytes glibc holds free in all its arenas (`mallinfo2().fordblks`), returned or not. */
  freeBytes(): number;
  /** `malloc_trim(0)`: returns every free page of every arena to the OS. */
  trim(): void;
  close(): void;
}

const MALLINFO2 = { struct: Array<"usize">(10).fill("usize") } as const;
/** Index of `fordblks` (free bytes) in `struct mallinfo2`. */
const FORDBLKS = 8;

/**
 * Opens glibc's `malloc_trim` and `mallinfo2` (glibc 2.33+) over FFI.
 *
 * @throws when libc cannot be opened or lacks either symbol (musl, macOS,
 * Windows, old glibc) or `--allow-ffi` is missing.
 */
export function openMalloc(): Malloc {
  const lib = openLibc(
    {
      malloc_trim: { parameters: ["usize"], result: "i32" },
      mallinfo2: { parameters: [], result: MALLINFO2 },
    } as const,
  );
  return {
    freeBytes: () => Number(new BigUint64Array(lib.symbols.mallinfo2().buffer)[FORDBLKS]),
    trim: () => void lib.symbols.malloc_trim(0n),
    close: () => lib.close(),
  };
}

/** State the trim decision carries from one check to the next. */
export interface TrimState {
  /** Free bytes right after the last trim, lowered whenever fewer are free (memory reused). */
  returned: number;
  /** CPU seconds used since the last trim. */
  busy: number;
}

/** What one check sees. */
export interface TrimSample {
  /** Bytes glibc holds free now. */
  freeBytes: number;
  /** CPU used during the last interval, as a share of one core. */
  cpuShare: number;
}

/** Thresholds of the trim decision. */
export interface TrimLimits {
  minFreeBytes: number;
  maxCpuShare: number;
  minBusySeconds: number;
}

/**
 * Whether to trim now: the process was quiet (`cpuShare` at most
 * `maxCpuShare`), glibc holds at least `minFreeBytes` free, and either that
 * is `minFreeBytes` more than right after the last trim or the process has
 * used `minBusySeconds` of CPU since (it may have reused and freed the
 * returned pages between two checks). Lowers `state.returned` when less is
 * free (memory reused).
 *
 * @example
 * ```ts
 * const state = { returned: 0, busy: 0 };
 * const limits = { minFreeBytes: 4e6, maxCpuShare: 0.05, minBusySeconds: 1 };
 * shouldTrim(state, { freeBytes: 50e6, cpuShare: 0.01 }, limits); // true
 * ```
 */
export function shouldTrim(state: TrimState, sample: TrimSample, limits: TrimLimits): boolean {
  state.returned = Math.min(state.returned, sample.freeBytes);
  if (sample.cpuShare > limits.maxCpuShare || sample.freeBytes < limits.minFreeBytes) return false;
  return sample.freeBytes - state.returned >= limits.minFreeBytes ||
    state.busy >= limits.minBusySeconds;
}

/** CPU time this process has used, in seconds (`/proc/self/stat` utime + stime). */
export function cpuSeconds(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
/** `sysconf(_SC_CLK_TCK)`: 100 on every Linux Deno runs on. */
const CLOCK_TICKS = 100;

/**
 * Starts the trimmer: a timer (not keeping the process alive) that returns
 * glibc's free memory to the OS when the process is quiet. Does nothing but
 * say why where it cannot work.
 *
 * @example
 * ```ts
 * using trim = startMemoryTrim();
 * if (trim.unavailable !== null) console.debug(`No memory trimming: ${trim.unavailable}`);
 * ```
 */
export function startMemoryTrim(options: MemoryTrimOptions = {}): MemoryTrim {
  const limits: TrimLimits = {
    minFreeBytes: options.minFreeBytes ?? 4 * 1024 * 1024,
    maxCpuShare: options.maxCpuShare ?? 0.05,
    minBusySeconds: options.minBusySeconds ?? 1,
  };
  const intervalMs = options.intervalMs ?? 10_000;
  let malloc: Malloc;
  let lastCpu: number;
  try {
    if (Deno.build.os !== "linux") throw new Error(`not on Linux (${Deno.build.os})`);
    lastCpu = cpuSeconds();
    malloc = openMalloc();
  } catch (e) {
    const reason = `glibc's malloc_trim is not available: ${(e as Error).message}`;
    return { unavailable: reason, trims: 0, stop() {}, [Symbol.dispose]() {} };
  }
  const state: TrimState = { returned: malloc.freeBytes(), busy: 0 };
  let lastAt = performance.now();
  let trims = 0;
  const check = () => {
    const now = performance.now();
    const cpu = cpuSeconds();
    const cpuShare = (cpu - lastCpu) / Math.max((now - lastAt) / 1000, 0.001);
    state.busy += cpu - lastCpu;
    [lastCpu, lastAt] = [cpu, now];
    const freeBytes = malloc.freeBytes();
    if (!shouldTrim(state, { freeBytes, cpuShare }, limits)) return;
    malloc.trim();
    trims++;
    state.returned = malloc.freeBytes();
    state.busy = 0;
    options.onTrim?.(freeBytes, performance.now() - now);
  };
  const timer = setInterval(check, intervalMs);
  Deno.unrefTimer(timer);
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    malloc.close();
  };
  return {
    unavailable: null,
    get trims() {
      return trims;
    },
    stop,
    [Symbol.dispose]: stop,
  };
}
