/**
 * A dial that a stuck attempt cannot hold up: when the first attempt has not
 * finished after a while (a lost SYN, a server that accepted the connection
 * and went silent), a second one starts beside it and the first to succeed
 * wins. Each attempt keeps its own deadline.
 *
 * @module
 */

/** Options of {@linkcode hedgedDial}. */
export interface HedgeOptions<T> {
  /** Milliseconds after which a still pending first attempt gets a second one beside it. */
  hedgeAfter: number;
  /** When aborted before the hedge, no second attempt starts. */
  signal?: AbortSignal;
  /** Called when the second attempt starts. */
  onHedge?: () => void;
  /** Receives an attempt that succeeded after the other had won, to close it. */
  discard(loser: T): void;
}

/**
 * Runs `attempt`; if it has not settled after `hedgeAfter` ms, runs it a
 * second time beside the first. Resolves with the first success; rejects
 * when every attempt started failed (with the last error).
 *
 * @example
 * ```ts
 * const dialed = await hedgedDial(() => dialWebSocket(url, options), {
 *   hedgeAfter: 2000,
 *   discard: (late) => late.close(),
 * });
 * ```
 */
export async function hedgedDial<T>(
  attempt: () => Promise<T>,
  options: HedgeOptions<T>,
): Promise<T> {
  const first = attempt();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hedge = new Promise<"hedge">((resolve) => {
    timer = setTimeout(resolve, options.hedgeAfter, "hedge");
  });
  try {
    const early = await Promise.race([first.then((value) => ({ value })), hedge]);
    if (early !== "hedge") return early.value;
  } finally {
    clearTimeout(timer);
  }
  if (options.signal?.aborted) return await first;
  options.onHedge?.();
  const attempts = [first, attempt()];
  const winner = await Promise.any(attempts).catch((e: AggregateError) => {
    throw e.errors[e.errors.length - 1];
  });
  for (const p of attempts) {
    p.then((value) => {
      if (value !== winner) options.discard(value);
    }, () => {});
  }
  return winner;
}
