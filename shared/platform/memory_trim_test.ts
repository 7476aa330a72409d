import assert from "node:assert/strict";
import { shouldTrim } from "./memory_trim.ts";
import { fileURLToPath } from "node:url";

const MIB = 1024 * 1024;
const LIMITS = { minFreeBytes: 4 * MIB, maxCpuShare: 0.05, minBusySeconds: 1 };
const LINUX = Deno.build.os === "linux";

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

/** Runs one residency experiment in a process of its own (`tests/helpers/memory_trim_child.ts`). */
async function experiment(which: "trim" | "start"): Promise<string | null> {
  const child = fileURLToPath(new URL("../../tests/helpers/memory_trim_child.ts", import.meta.url));
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", child, which],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return (JSON.parse(text) as { failure: string | null }).failure;
}

Deno.test({
  name: "openMalloc().trim() gives freed heap pages back to the OS",
  ignore: !LINUX,
  async fn() {
    assert.equal(await experiment("trim"), null);
  },
});

Deno.test({
  name: "startMemoryTrim returns freed memory once the process is quiet, and stops",
  ignore: !LINUX,
  async fn() {
    assert.equal(await experiment("start"), null);
  },
});
