import assert from "node:assert/strict";
import { openLibc } from "./libc.ts";
import { openMalloc, shouldTrim, startMemoryTrim } from "./memory_trim.ts";

const MIB = 1024 * 1024;
const LIMITS = { minFreeBytes: 4 * MIB, maxCpuShare: 0.05, minBusySeconds: 1 };
const LINUX = Deno.build.os === "linux";

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
        assert.equal(libc.symbols.mincore(at, BigInt(length), pages), 0, "mincore failed");
        for (let i = 0; i < length / PAGE; i++) bytes += (pages[i]! & 1) * PAGE;
      }
      return bytes;
    },
    release() {
      for (const pin of pins) libc.symbols.free(pin);
      libc.close();
    },
  };
}

Deno.test("shouldTrim trims a quiet process holding free memory it has not returned yet", () => {
  const state = { returned: 1 * MIB, busy: 0 };
  assert.equal(shouldTrim(state, { freeBytes: 40 * MIB, cpuShare: 0.01 }, LIMITS), true);
});

Deno.test("shouldTrim leaves a busy process alone, however much is free", () => {
  const state = { returned: 1 * MIB, busy: 5 };
  assert.equal(shouldTrim(state, { freeBytes: 400 * MIB, cpuShare: 0.5 }, LIMITS), false);
});

Deno.test("shouldTrim does not trim again for memory already returned", () => {
  // Right after a trim glibc still counts the returned pages as free.
  const state = { returned: 40 * MIB, busy: 0 };
  assert.equal(shouldTrim(state, { freeBytes: 42 * MIB, cpuShare: 0 }, LIMITS), false);
  // Some of it reused, then freed again: that part is resident again.
  assert.equal(shouldTrim(state, { freeBytes: 10 * MIB, cpuShare: 0 }, LIMITS), false);
  assert.equal(state.returned, 10 * MIB);
  assert.equal(shouldTrim(state, { freeBytes: 30 * MIB, cpuShare: 0 }, LIMITS), true);
});

Deno.test("shouldTrim trims again after work, though the free count did not grow", () => {
  // A burst reused the returned pages and freed them between two checks.
  const state = { returned: 40 * MIB, busy: 3 };
  assert.equal(shouldTrim(state, { freeBytes: 40 * MIB, cpuShare: 0 }, LIMITS), true);
  // Less free than minFreeBytes: nothing worth a trim.
  assert.equal(shouldTrim(state, { freeBytes: 1 * MIB, cpuShare: 0 }, LIMITS), false);
});

/**
 * Runs a residency experiment up to three times: other tests running in this
 * process (`deno test --parallel` runs files on threads of one process) share
 * glibc's arenas and may reuse the freed pages or free their own meanwhile.
 * Each attempt returns null when it held, or why it did not; the test fails
 * only when all three did not.
 */
async function holdsOnce(attempt: () => Promise<string | null> | string | null): Promise<void> {
  const failures: string[] = [];
  for (let i = 0; i < 3; i++) {
    const failure = await attempt();
    if (failure === null) return;
    failures.push(failure);
  }
  assert.fail(`failed 3 times: ${failures.join("; ")}`);
}

Deno.test({
  name: "openMalloc().trim() gives freed heap pages back to the OS",
  ignore: !LINUX,
  async fn() {
    await holdsOnce(() => {
      const malloc = openMalloc();
      const heap = churnHeap(64 * MIB);
      try {
        const free = malloc.freeBytes();
        if (free < 60 * MIB) return `free ${free}`;
        const before = heap.resident();
        if (before < 40 * MIB) return `resident before: ${before}`;
        malloc.trim();
        const left = heap.resident();
        return left <= 8 * MIB ? null : `still resident: ${(left / MIB).toFixed(1)} MiB`;
      } finally {
        heap.release();
        malloc.close();
      }
    });
  },
});

Deno.test({
  name: "startMemoryTrim returns freed memory once the process is quiet, and stops",
  ignore: !LINUX,
  async fn() {
    await holdsOnce(async () => {
      const heap = churnHeap(32 * MIB);
      // Residency read in the trim's own callback, before anything else runs on this thread.
      const trimmed = Promise.withResolvers<{ freeBytes: number; left: number }>();
      let trim: ReturnType<typeof startMemoryTrim> | null = null;
      const timeout = setTimeout(() => trimmed.reject(new Error("No trim within 10 s")), 10_000);
      try {
        const before = heap.resident();
        if (before < 20 * MIB) return `resident before: ${before}`;
        // Started after the churn: a trim of other tests' memory cannot come first.
        trim = startMemoryTrim({
          intervalMs: 20,
          minFreeBytes: 16 * MIB,
          // Generous: the test runner may share this process's CPU with other tests.
          maxCpuShare: 0.9,
          minBusySeconds: 0,
          onTrim: (freeBytes) => trimmed.resolve({ freeBytes, left: heap.resident() }),
        });
        assert.equal(trim.unavailable, null);
        const { freeBytes, left } = await trimmed.promise;
        assert.ok(trim.trims >= 1);
        if (freeBytes < 30 * MIB) return `trimmed with ${freeBytes} free`;
        return left <= 16 * MIB ? null : `still resident: ${(left / MIB).toFixed(1)} MiB`;
      } finally {
        clearTimeout(timeout);
        trim?.stop();
        trim?.stop();
        heap.release();
      }
    });
  },
});
