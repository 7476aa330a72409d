/**
 * The residency experiments of `shared/platform/memory_trim_test.ts`, run in
 * a process of their own: in the parallel suite other test files run on
 * threads of the test process and share glibc's arenas, so they reuse freed
 * pages or trim them (a flake: "resident before: 3 MiB", "still resident:
 * 21 MiB"). In a fresh process a 64 MiB churn leaves about 36 MiB resident before
 * the trim (glibc returns part of it by itself), hence the 24 MiB floor. Prints one JSON line: `{ "failure": null | "why" }`.
 *
 * Usage: `deno run -A tests/helpers/memory_trim_child.ts trim|start`
 *
 * @module
 */

import { openLibc } from "../../shared/platform/libc.ts";
import { openMalloc, startMemoryTrim } from "../../shared/platform/memory_trim.ts";

const MIB = 1024 * 1024;
const PAGE = 4096;

/** Freed heap memory, kept from going back to the OS by small blocks allocated between it. */
interface FreedHeap {
  /** Bytes of the freed blocks' pages that are resident (`mincore`). */
  resident(): number;
  /** Frees the small blocks and closes libc. */
  release(): void;
}

/**
 * Mallocs `total` bytes in 16 KiB blocks (below glibc's mmap threshold, so
 * from a heap), each followed by a small block, writes them, and frees the
 * 16 KiB ones: with a live block after each, the freed space cannot merge
 * into the heap's top, so glibc keeps it until trimmed. Their residency is
 * read with `mincore`, which, unlike the process's RSS, other tests running in
 * this process cannot change.
 */
function churnHeap(total: number): FreedHeap {
  const libc = openLibc(
    {
      malloc: { parameters: ["usize"], result: "pointer" },
      free: { parameters: ["pointer"], result: "void" },
      mincore: { parameters: ["pointer", "usize", "buffer"], result: "i32" },
    } as const,
  );
  const blocks: Deno.PointerObject[] = [];
  const pins: (Deno.PointerObject | null)[] = [];
  for (let n = 0; n < total; n += 16384) {
    const p = libc.symbols.malloc(16384n)!;
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, 16384)).fill(1);
    blocks.push(p);
    pins.push(libc.symbols.malloc(64n));
  }
  // The whole pages inside each block (the blocks may lie in several heaps, with gaps between).
  const ranges = blocks.map((p) => {
    const address = Number(Deno.UnsafePointer.value(p));
    const start = Math.ceil(address / PAGE) * PAGE;
    return { start, length: Math.floor((address + 16384) / PAGE) * PAGE - start };
  });
  for (const p of blocks) libc.symbols.free(p);
  const pages = new Uint8Array(16384 / PAGE);
  return {
    resident() {
      let bytes = 0;
      for (const { start, length } of ranges) {
        const at = Deno.UnsafePointer.create(BigInt(start));
        if (libc.symbols.mincore(at, BigInt(length), pages) === 0) {
          for (let i = 0; i < length / PAGE; i++) bytes += (pages[i]! & 1) * PAGE;
          continue;
        }
        // ENOMEM: part of the range is unmapped (a trimmed heap shrank): page by page, an
        // unmapped page is not resident.
        for (let i = 0; i < length / PAGE; i++) {
          const page = Deno.UnsafePointer.create(BigInt(start + i * PAGE));
          if (libc.symbols.mincore(page, BigInt(PAGE), pages) === 0) {
            bytes += (pages[0]! & 1) * PAGE;
          }
        }
      }
      return bytes;
    },
    release() {
      for (const pin of pins) libc.symbols.free(pin);
      libc.close();
    },
  };
}

/** Frees 64 MiB of heap and trims it directly: null when the pages went back. */
function trimOnce(): string | null {
  const malloc = openMalloc();
  const heap = churnHeap(64 * MIB);
  try {
    const free = malloc.freeBytes();
    if (free < 32 * MIB) return `free ${free}`;
    const before = heap.resident();
    if (before < 24 * MIB) return `resident before: ${before}`;
    malloc.trim();
    const left = heap.resident();
    return left <= 8 * MIB ? null : `still resident: ${(left / MIB).toFixed(1)} MiB`;
  } finally {
    heap.release();
    malloc.close();
  }
}

/** Frees 32 MiB and lets startMemoryTrim find it: null when it trimmed it. */
async function startOnce(): Promise<string | null> {
  const heap = churnHeap(32 * MIB);
  const trimmed = Promise.withResolvers<{ freeBytes: number; left: number }>();
  let trim: ReturnType<typeof startMemoryTrim> | null = null;
  const timeout = setTimeout(() => trimmed.reject(new Error("No trim within 10 s")), 10_000);
  try {
    const before = heap.resident();
    if (before < 20 * MIB) return `resident before: ${before}`;
    trim = startMemoryTrim({
      intervalMs: 20,
      minFreeBytes: 16 * MIB,
      maxCpuShare: 0.9,
      minBusySeconds: 0,
      onTrim: (freeBytes) => trimmed.resolve({ freeBytes, left: heap.resident() }),
    });
    if (trim.unavailable !== null) return `unavailable: ${trim.unavailable}`;
    const { freeBytes, left } = await trimmed.promise;
    if (trim.trims < 1) return "no trim counted";
    if (freeBytes < 30 * MIB) return `trimmed with ${freeBytes} free`;
    return left <= 16 * MIB ? null : `still resident: ${(left / MIB).toFixed(1)} MiB`;
  } finally {
    clearTimeout(timeout);
    trim?.stop();
    trim?.stop();
    heap.release();
  }
}

const which = Deno.args[0];
const failure = which === "trim" ? trimOnce() : which === "start" ? await startOnce() : "usage";
console.log(JSON.stringify({ failure }));
