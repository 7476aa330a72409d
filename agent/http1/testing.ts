/**
 * Helpers for the HTTP/1.1 client's tests: a raw loopback server answering
 * with hand-written bytes, a request reader for it, and body collectors.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { concat } from "../../shared/bytes.ts";
import type { ByteSource, Http1Body, Http1Request } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads requests from a raw server's connection: heads, then body bytes. */
export class RequestReader {
  readonly #conn: Deno.Conn;
  #pending: Uint8Array = new Uint8Array(0);

  /** Reads from `conn`. */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** The next request head as text (without the empty line), or null at EOF. */
  async head(): Promise<string | null> {
    for (;;) {
      const text = decoder.decode(this.#pending);
      const end = text.indexOf("\r\n\r\n");
      if (end !== -1) {
        this.#pending = this.#pending.subarray(end + 4);
        return text.slice(0, end);
      }
      if (!await this.#more()) return null;
    }
  }

  /** Exactly `n` body bytes, or fewer at EOF. */
  async bytes(n: number): Promise<Uint8Array> {
    while (this.#pending.length < n && await this.#more());
    const out = this.#pending.slice(0, n);
    this.#pending = this.#pending.subarray(out.length);
    return out;
  }

  /** Resolves true at EOF (or reset), false if a byte arrives instead. */
  async eof(): Promise<boolean> {
    if (this.#pending.length > 0) return false;
    return !await this.#more();
  }

  async #more(): Promise<boolean> {
    const buf = new Uint8Array(65536);
    let n: number | null;
    try {
      n = await this.#conn.read(buf);
    } catch {
      n = null;
    }
    if (n === null) return false;
    this.#pending = concat([this.#pending, buf.subarray(0, n)]);
    return true;
  }
}

/** What a raw server's handler gets for each accepted connection. */
export interface RawConn {
  /** The socket (Nagle off). */
  conn: Deno.TcpConn;
  /** Reads requests from it. */
  reader: RequestReader;
  /** 0 for the first accepted connection, then 1… */
  index: number;
  /** Writes a string (Latin-1 bytes), or bytes. */
  send(data: string | Uint8Array): Promise<void>;
}

/** A raw loopback server; `await using` closes it and its connections. */
export interface RawServer extends AsyncDisposable {
  /** Port it listens on, on 127.0.0.1. */
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
}

/**
 * Listens on 127.0.0.1 and runs `handle` for each connection; the connection
 * is closed when `handle` returns or throws.
 */
export function rawServer(handle: (c: RawConn) => Promise<void>): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const handlers: Promise<void>[] = [];
  let accepted = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      conn.setNoDelay(true);
      conns.add(conn);
      const c: RawConn = {
        conn,
        reader: new RequestReader(conn),
        index: accepted++,
        send: (data) => writeAll(conn, typeof data === "string" ? latin1(data) : data),
      };
      handlers.push(
        handle(c).catch(() => {}).finally(() => {
          conns.delete(conn);
          try {
            conn.close();
          } catch {
            // Already closed.
          }
        }),
      );
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    get accepted() {
      return accepted;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) conn.close();
      await loop;
      await Promise.all(handlers);
    },
  };
}

/** Writes all of `data`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

/** One byte per character. */
export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Reads a body to its end, copying the chunks (they are views into a reused buffer). */
export async function readBody(body: Http1Body | null): Promise<Uint8Array> {
  if (body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  for (let c = await body.read(); c !== null; c = await body.read()) chunks.push(c.slice());
  return concat(chunks);
}

/** Reads a body to its end as text. */
export async function readText(body: Http1Body | null): Promise<string> {
  return decoder.decode(await readBody(body));
}

/** A GET (or `method`) request to 127.0.0.1:`port`. */
export function request(port: number, fields: Partial<Http1Request> = {}): Http1Request {
  return {
    hostname: "127.0.0.1",
    port,
    method: "GET",
    target: "/",
    headers: [["host", `127.0.0.1:${port}`]],
    body: null,
    ...fields,
  };
}

/** A source handing out `data` in chunks of `chunk` bytes, from a reused buffer. */
export function sourceOf(data: Uint8Array, chunk = 65536): ByteSource {
  const scratch = new Uint8Array(chunk);
  let off = 0;
  return {
    read() {
      if (off >= data.length) return Promise.resolve(null);
      const n = Math.min(chunk, data.length - off);
      scratch.set(data.subarray(off, off + n));
      off += n;
      return Promise.resolve(scratch.subarray(0, n));
    },
  };
}

/** Encodes text as UTF-8. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** A Deno.serve backend on loopback; `await using` shuts it down. */
export function serve(
  handler: (req: Request) => Response | Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
}

/** A raw server answering every request on a connection with "hello" (keep-alive). */
export function helloServer(): RawServer {
  return rawServer(async (c) => {
    while (await c.reader.head() !== null) {
      await c.send("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    }
  });
}

/** Hex SHA-256 of a request's body, read as it streams in. */
export async function sha256Body(req: Request): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of req.body!) hash.update(chunk);
  return hash.digest("hex");
}
