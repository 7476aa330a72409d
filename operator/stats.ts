/**
 * Counters of one forward (connections open and in all, bytes each way) and
 * their one-line summary for the status line.
 *
 * @module
 */

import type { ByteChannel } from "../shared/forward/splice.ts";

/** The counters of one forward (a TCP or UDP forward, or a SOCKS listener). */
export class ForwardStats {
  /** What the counters are for: `127.0.0.1:15432 -> db1 127.0.0.1:5432`. */
  label: string;
  /** Connections (or UDP flows) open now. */
  open = 0;
  /** Connections (or flows) accepted in all. */
  total = 0;
  /** Connections the agent or the server refused, or that found no session. */
  failed = 0;
  /** Bytes sent towards the target. */
  up = 0;
  /** Bytes received from the target. */
  down = 0;

  /** Counters for `label`, all zero. */
  constructor(label: string) {
    this.label = label;
  }

  /** `label: 2 open, 17 total, 1 failed, ↑ 1.2 MB ↓ 3.4 MB`. */
  summary(): string {
    const failed = this.failed > 0 ? `, ${this.failed} failed` : "";
    return `${this.label}: ${this.open} open, ${this.total} total${failed}, ` +
      `up ${formatBytes(this.up)} down ${formatBytes(this.down)}`;
  }
}

/**
 * Bytes in a short human form: `512 B`, `1.5 kB`, `12.0 MB`, `3.20 GB` (powers of 1000).
 *
 * @example
 * ```ts
 * formatBytes(1_500); // "1.5 kB"
 * ```
 */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = n / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/**
 * `channel` with every byte written to it counted by `count` (after the write
 * resolved), for live byte counters.
 *
 * @example
 * ```ts
 * const up = countWrites(muxChannel(stream), (n) => stats.up += n);
 * ```
 */
export function countWrites(channel: ByteChannel, count: (bytes: number) => void): ByteChannel {
  return {
    read: () => channel.read(),
    async write(chunk) {
      await channel.write(chunk);
      count(chunk.length);
    },
    closeWrite: () => channel.closeWrite(),
    abort: () => channel.abort(),
    close: () => channel.close(),
  };
}
