/**
 * A loopback TCP relay whose connections can be frozen: bytes stop flowing
 * both ways while the sockets stay open, as when a network path dies
 * without either end noticing. New connections after a cut flow normally.
 *
 * @module
 */

/** A TCP relay from 127.0.0.1:<port> to `upstream`. */
export class CutProxy {
  /** `127.0.0.1:<port>` to dial instead of the upstream. */
  readonly address: string;
  readonly #listener: Deno.TcpListener;
  readonly #upstream: { hostname: string; port: number };
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #frozen = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #cut = Promise.withResolvers<void>();
  #stall: number;

  /**
   * Relays to `upstream` (`host:port`). The first `options.stall` connections
   * are accepted and never relayed (a dial that gets stuck); later ones flow.
   */
  constructor(upstream: string, options: { stall?: number } = {}) {
    this.#stall = options.stall ?? 0;
    const [hostname, port] = upstream.split(":");
    this.#upstream = { hostname: hostname!, port: Number(port) };
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.address = `127.0.0.1:${this.#listener.addr.port}`;
    this.#accepting = this.#accept();
  }

  /** Freezes every connection open now; it stays silent until `close()`. */
  cut(): void {
    this.#cut.resolve();
    this.#cut = Promise.withResolvers<void>();
  }

  /** Closes the listener and every connection. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) closeQuietly(conn);
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      this.#conns.add(client);
      if (this.#stall > 0) {
        // Held open and silent until close().
        this.#stall--;
        continue;
      }
      let server: Deno.Conn;
      try {
        server = await Deno.connect(this.#upstream);
      } catch {
        closeQuietly(client);
        continue;
      }
      this.#conns.add(server);
      const cut = this.#cut.promise;
      this.#track(this.#pump(client, server, cut));
      this.#track(this.#pump(server, client, cut));
    }
  }

  /** Copies `from` to `to` until either closes or the cut comes; then holds both open. */
  async #pump(from: Deno.Conn, to: Deno.Conn, cut: Promise<void>): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    const cutNow = cut.then(() => "cut" as const);
    try {
      for (;;) {
        const read = from.read(buf);
        const n = await Promise.race([read, cutNow]);
        if (n === "cut") {
          // Frozen: whatever this read brings is dropped, and nothing reads after it.
          await read.catch(() => null);
          return;
        }
        if (n === null) {
          await to.closeWrite().catch(() => {});
          return;
        }
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch {
      // Closed by close() or by the other end.
    }
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
