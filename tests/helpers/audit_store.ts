/**
 * Helpers for audit store tests: a temp folder removed afterwards, and store
 * options whose flush timer stays out of the way unless a test sets it.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { AuditStoreOptions } from "../../server/audit/store.ts";

/** Options for a store in `dataDir`: retention off, a one-minute flush interval, `overrides` on top. */
export function storeOptions(
  dataDir: string,
  overrides: Partial<AuditStoreOptions> = {},
): AuditStoreOptions {
  return {
    dataDir,
    retentionDays: 0,
    flushInterval: 60_000,
    batchSize: 1000,
    queueSize: 10_000,
    log: getLogger(["burrow", "test", "audit"]),
    ...overrides,
  };
}

/** Runs `body` with a fresh temp folder, removed afterwards whatever happens. */
export async function withTempDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-audit-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
