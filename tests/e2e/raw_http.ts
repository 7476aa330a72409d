/**
 * HTTP/1.1 by hand for end-to-end tests: a backend on raw TCP that records
 * the exact bytes of each request it gets, and a client on raw TLS that
 * sends exactly the bytes it is given.
 *
 * @module
 */

const latin1 = new TextDecoder("latin1");

/** A request as a raw backend received it. */
export interface RawRequest {
  /** The head, request line to the empty line, bytes as latin1 characters. */
  head: string;
  /** The body bytes as sent (chunk framing included), as latin1 characters. */
  body: string;
}

/** A backend on 127.0.0.1 that records requests and answers each `200 ok`. */
export interface RawBackend {
  /** Its base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** Requests received whole, in order. */
  requests: RawRequest[];
  /** Resolves with the next request received whole. */
  next(): Promise<RawRequest>;
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

/** Where a request's body ends in `text` (from the end of its head), or -1 when not there yet. */
function bodyEnd(head: string, text: string, from: number): number {
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    const end = text.indexOf("0\r\n\r\n", from);
    // The last chunk: a size line of 0 at the start of the body or after a CRLF.
    if (end === -1 || (end !== from && text.slice(end - 2, end) !== "\r\n")) return -1;
    return end + 5;
  }
  const n = length === null ? 0 : Number(length[1]);
  return text.length - from >= n ? from + n : -1;
}

/** Starts a {@link RawBackend}: one request per connection, answered and closed. */
export function rawBackend(): RawBackend {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: RawRequest[] = [];
  const waiting: ((r: RawRequest) => void)[] = [];
  const conns = new Set<Deno.Conn>();
  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
    let text = "";
    const buf = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return;
        text += latin1.decode(buf.subarray(0, n));
        const headEnd = text.indexOf("\r\n\r\n");
        if (headEnd === -1) continue;
        const head = text.slice(0, headEnd + 4);
        const end = bodyEnd(head, text, headEnd + 4);
        if (end === -1) continue;
        const request = { head, body: text.slice(headEnd + 4, end) };
        requests.push(request);
        waiting.shift()?.(request);
        const reply = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
        await conn.write(new TextEncoder().encode(reply));
        return;
      }
    } catch {
      // The agent went away; the test sees it through what was recorded.
    } finally {
      conns.delete(conn);
      conn.close();
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    requests,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // Closed already.
        }
      }
      await accepting;
    },
  };
}

/** A response read by {@link rawRequest}. */
export interface RawResponse {
  /** Status code. */
  status: number;
  /** Everything read, head and body, as latin1 characters. */
  text: string;
}

/**
 * Sends `bytes` over a new TLS connection to `127.0.0.1:port` (trusting
 * `caCert`) and reads the response until the server closes or a whole
 * response with a Content-Length arrived. The request should say
 * `connection: close`.
 */
export async function rawRequest(
  port: number,
  caCert: string,
  bytes: Uint8Array | string,
): Promise<RawResponse> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] });
  try {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    await conn.write(data);
    return await readResponse(conn);
  } finally {
    conn.close();
  }
}

/** Reads one response from `conn` (see {@link rawRequest}). */
export async function readResponse(conn: Deno.Conn): Promise<RawResponse> {
  let text = "";
  const buf = new Uint8Array(65536);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      n = null;
    }
    if (n === null) break;
    text += latin1.decode(buf.subarray(0, n));
    const headEnd = text.indexOf("\r\n\r\n");
    if (headEnd === -1) continue;
    const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd + 2));
    if (length !== null && text.length >= headEnd + 4 + Number(length[1])) break;
  }
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return { status: status === null ? 0 : Number(status[1]), text };
}
