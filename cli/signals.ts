/**
 * Waiting for the operator to stop a long-running command.
 *
 * @module
 */

/**
 * Resolves with the signal name on the first SIGINT (Ctrl-C) or, where it
 * exists, SIGTERM; removes its listeners before resolving.
 *
 * @example
 * ```ts
 * const signal = await waitForShutdown();
 * console.error(`Stopping on ${signal}`);
 * ```
 */
export function waitForShutdown(): Promise<Deno.Signal> {
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  return new Promise((resolve) => {
    const handlers = signals.map((signal) => {
      const handler = () => {
        for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
  });
}
