/**
 * What the audit store costs the event loop: the caller's enqueue (per
 * record), and a flush (one transaction) for batches of 1 to 1,000 records,
 * on a real file in a temp folder (WAL, synchronous NORMAL). The batch of 1
 * is the baseline of the same run: the table gives each batch's cost per
 * record as a ratio to it. Run with `deno task bench` (BENCH_ROUNDS sets the
 * transactions per size, default 200).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { AuditStore } from "../server/audit/store.ts";

const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 200);
const SIZES = [1, 10, 50, 200, 1000];

/** Median of `values`. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Queues one record of each kind a server writes most: a channel's open and close. */
function enqueue(store: AuditStore, i: number): void {
  if (i % 2 === 0) {
    store.channelOpened({
      operator: "alice",
      agent: "db1",
      kind: "forward",
      target: "127.0.0.1:5432",
      source: "198.51.100.7:50211",
    });
  } else {
    store.channelClosed(i - 1, { result: "ok", bytesUp: 123_456, bytesDown: 7_654_321 });
  }
}

/** Rows per table a sweep deletes (the store's default bound). */
const SWEEP_ROWS = 1000;

/** Milliseconds one bounded sweep holds the loop: 3 × 1,000 expired rows, in their own folder. */
async function sweepCost(): Promise<number> {
  const sweepDir = await Deno.makeTempDir({ prefix: "burrow-audit-sweep-" });
  let now = 0;
  const store = AuditStore.open({
    dataDir: sweepDir,
    retentionDays: 1,
    flushInterval: 60_000,
    batchSize: 10_000,
    queueSize: 1_000_000,
    sweepRows: SWEEP_ROWS,
    log: getLogger(["burrow", "bench"]),
    now: () => now,
  });
  try {
    const times: number[] = [];
    for (let r = 0; r < 5; r++) {
      for (let i = 0; i < SWEEP_ROWS; i++) {
        const s = store.sessionStarted({ agent: "a", remote: "r", at: now });
        store.sessionEnded(s, { reason: "gone", at: now });
        const c = store.channelOpened({ operator: "o", agent: "a", kind: "forward", target: "t" });
        store.channelClosed(c, { result: "ok", at: now });
        store.authRefused({ kind: "agent", source: "x", reason: "r", at: now });
      }
      store.flush();
      now += 2 * 24 * 60 * 60 * 1000;
      const t = performance.now();
      store.sweep();
      times.push(performance.now() - t);
    }
    return median(times);
  } finally {
    store.close();
    await Deno.remove(sweepDir, { recursive: true });
  }
}

const dir = await Deno.makeTempDir({ prefix: "burrow-audit-bench-" });
try {
  const store = AuditStore.open({
    dataDir: dir,
    retentionDays: 0,
    flushInterval: 60_000,
    batchSize: 10_000,
    queueSize: 1_000_000,
    log: getLogger(["burrow", "bench"]),
  });
  try {
    const pushes = 100_000;
    const t0 = performance.now();
    for (let i = 0; i < pushes; i++) enqueue(store, i);
    const pushUs = (performance.now() - t0) * 1000 / pushes;
    store.flush();
    console.log(`audit enqueue (caller's path): ${pushUs.toFixed(2)} µs per record`);
    console.log("audit flush, one transaction per batch (median of %d):", ROUNDS);
    console.log("| records | ms per batch | µs per record | per record vs batch of 1 |");
    console.log("| ---: | ---: | ---: | ---: |");
    let base = 0;
    for (const size of SIZES) {
      const times: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        for (let i = 0; i < size; i++) enqueue(store, i);
        const t = performance.now();
        store.flush();
        times.push(performance.now() - t);
      }
      const ms = median(times);
      const perRecord = ms * 1000 / size;
      if (size === 1) base = perRecord;
      console.log(
        `| ${size} | ${ms.toFixed(3)} | ${perRecord.toFixed(2)} | ${
          (perRecord / base).toFixed(3)
        } |`,
      );
    }
    console.log(`transactions written: ${store.stats.batches}, records: ${store.stats.written}`);
  } finally {
    store.close();
  }
  console.log(
    `audit retention sweep, ${SWEEP_ROWS} rows per table (median of 5): ${
      (await sweepCost()).toFixed(2)
    } ms`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
