import assert from "node:assert/strict";
import { openLibc } from "./libc.ts";
import { openMalloc, shouldTrim, startMemoryTrim } from "./memory_trim.ts";

const MIB = 1024 * 1024;
const LIMITS = { minFreeBytes: 4 * MIB, maxCpuShare: 0.05, minBusySeconds: 1 };
const LINUX = Deno.build.os === "linux";

/** This process's private resident memory (`RssAnon`), in bytes. */
function rssAnon(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(status.match(/^RssAnon:\s+(\d+)/m)![1]) * 1024;
}

/**
 * Mallocs `total` bytes in 16 KiB blocks (below glibc's mmap threshold, so
 * from the heap), writes them, and frees them all but a small block malloc'd
 * last, which keeps glibc from giving the freed space back by itself.
 * Returns a function that frees that last block.
 */
function churnHeap(total: number): () => void {
  const libc = openLibc(
    {
      malloc: { parameters: ["usize"], result: "pointer" },
      free: { parameters: ["pointer"], result: "void" },
    } as const,
  );
  const blocks: Deno.PointerObject[] = [];
  for (let n = 0; n < total; n += 16384) {
    const p = libc.symbols.malloc(16384n)!;
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, 16384)).fill(1);
    blocks.push(p);
  }
  const pin = libc.symbols.malloc(64n);
  for (const p of blocks) libc.symbols.free(p);
  return () => {
    libc.symbols.free(pin);
    libc.close();
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

Deno.test({
  name: "openMalloc().trim() gives freed heap pages back to the OS",
  ignore: !LINUX,
  fn() {
    const malloc = openMalloc();
    const unpin = churnHeap(64 * MIB);
    try {
      assert.ok(malloc.freeBytes() >= 60 * MIB, `free ${malloc.freeBytes()}`);
      const before = rssAnon();
      malloc.trim();
      const returned = before - rssAnon();
      assert.ok(returned >= 32 * MIB, `returned only ${(returned / MIB).toFixed(1)} MiB`);
    } finally {
      unpin();
      malloc.close();
    }
  },
});

Deno.test({
  name: "startMemoryTrim returns freed memory once the process is quiet, and stops",
  ignore: !LINUX,
  async fn() {
    const trimmed = Promise.withResolvers<number>();
    const trim = startMemoryTrim({
      intervalMs: 20,
      minFreeBytes: 16 * MIB,
      // Generous: the test runner may share this process's CPU with other tests.
      maxCpuShare: 0.9,
      minBusySeconds: 0,
      onTrim: (freeBytes) => trimmed.resolve(freeBytes),
    });
    const timeout = setTimeout(() => trimmed.reject(new Error("No trim within 10 s")), 10_000);
    const unpin = churnHeap(32 * MIB);
    try {
      const before = rssAnon();
      assert.equal(trim.unavailable, null);
      assert.ok((await trimmed.promise) >= 30 * MIB);
      const returned = before - rssAnon();
      assert.ok(returned >= 16 * MIB, `returned only ${(returned / MIB).toFixed(1)} MiB`);
      assert.ok(trim.trims >= 1);
    } finally {
      clearTimeout(timeout);
      trim.stop();
      trim.stop();
      unpin();
    }
  },
});
