/**
 * dialWebSocket against a real `Deno.serve` TLS server on 127.0.0.1: echo in
 * normal (Deno's TLS) and insecure (`node:tls`) mode, certificate and status
 * errors, timeouts and aborts, close from either side, a yamux session over
 * the dialled connection, and the latency of a reply written in two bursts
 * (TCP_NODELAY).
 */
import assert from "node:assert/strict";
import { makeCertificates } from "../tls/self_signed.ts";
import { Session } from "../mux/mod.ts";
import { fromWebSocket } from "./websocket.ts";
import { DialError, type DialOptions, dialWebSocket } from "./dial.ts";
import { randomBytes, readAll, sha256, within, writeAll } from "../../tests/helpers/streams.ts";

const PROTOCOL = "burrow.v1";
let certificates: ReturnType<typeof makeCertificates> | undefined;

/** Both ways of dialling a TLS server: trusting its CA, or not checking at all. */
const MODES: { name: string; options: (caCert: string) => Partial<DialOptions> }[] = [
  { name: "normal", options: (caCert) => ({ caCerts: [caCert] }) },
  { name: "insecure", options: () => ({ insecure: true }) },
];

/** Milliseconds the agent side waits between the two writes of a reply in the latency test. */
const BURST_GAP_MS = 3;
const REPLY_HEAD = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n";
const REPLY_BODY = "ok";

/** A TLS (or plain) server: `/echo` echoes binary messages, `/hold` hands its socket to the test. */
async function startServer(options: { tls?: boolean; hostnames?: string[] } = {}) {
  const { caCert, cert, key } = options.hostnames
    ? await makeCertificates({ hostnames: options.hostnames })
    : await (certificates ??= makeCertificates({ hostnames: ["localhost", "127.0.0.1"] }));
  const sockets: WebSocket[] = [];
  const held: PromiseWithResolvers<WebSocket>[] = [Promise.withResolvers()];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    ...(options.tls === false ? {} : { cert, key }),
  }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/404") return new Response("No agent endpoint here", { status: 404 });
    if (req.headers.get("upgrade") !== "websocket") return new Response(null, { status: 426 });
    if (path === "/auth" && req.headers.get("authorization") !== "Bearer sesame") {
      return new Response("Bad token", { status: 401 });
    }
    const protocol = path === "/noproto" ? {} : { protocol: PROTOCOL };
    const { socket, response } = Deno.upgradeWebSocket(req, protocol);
    socket.binaryType = "arraybuffer";
    sockets.push(socket);
    if (path === "/hold") {
      held.at(-1)!.resolve(socket);
      held.push(Promise.withResolvers());
    } else socket.onmessage = (e) => socket.send(e.data);
    return response;
  });
  const scheme = options.tls === false ? "ws" : "wss";
  return {
    caCert,
    url: (path: string, host = "localhost") => `${scheme}://${host}:${server.addr.port}${path}`,
    /** The server socket of the next `/hold` connection. */
    takeHeld: async () => {
      const socket = await held[0]!.promise;
      held.shift();
      return socket;
    },
    async [Symbol.asyncDispose]() {
      for (const ws of sockets) if (ws.readyState < WebSocket.CLOSING) ws.close(1000);
      await Promise.all(sockets.map(closedWs));
      await server.shutdown();
    },
  };
}

function closedWs(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => ws.addEventListener("close", () => resolve(), { once: true }));
}

/** Reads messages until `n` bytes arrived; returns them joined. */
async function readBytes(reader: ReadableStreamDefaultReader<Uint8Array>, n: number) {
  const out = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`EOF after ${off} of ${n} bytes`);
    out.set(value, off);
    off += value.length;
  }
  return out;
}

/**
 * The tunnel side of one proxied request: opens a stream and reads the reply
 * to its end. Resolves with the milliseconds from open to the reply's end.
 */
async function exchange(tunnel: Session): Promise<number> {
  const start = performance.now();
  const stream = await tunnel.open();
  const reply = await readAll(stream.readable);
  const took = performance.now() - start;
  await stream.writable.close();
  assert.equal(new TextDecoder().decode(reply), REPLY_HEAD + REPLY_BODY);
  return took;
}

/**
 * The agent side: answers every stream the way an HTTP reply goes out, head
 * and body in two writes `BURST_GAP_MS` apart, then FIN. Ends with the session.
 */
async function answerInBursts(agent: Session): Promise<void> {
  const encoder = new TextEncoder();
  for (let stream; (stream = await agent.accept());) {
    const writer = stream.writable.getWriter();
    await writer.write(encoder.encode(REPLY_HEAD));
    // Not a wait for readiness: this gap is the behaviour under test.
    await new Promise((resolve) => setTimeout(resolve, BURST_GAP_MS));
    await writer.write(encoder.encode(REPLY_BODY));
    await writer.close();
    await readAll(stream.readable);
  }
}

/** Asserts `promise` rejects with a DialError of `code`; returns it. */
async function dialFails(promise: Promise<unknown>, code: string): Promise<DialError> {
  const error = await within(15_000, `dial to fail with ${code}`, promise).then(
    () => assert.fail(`dial succeeded, expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DialError, `expected a DialError, got ${error}`);
  assert.equal(error.code, code, error.message);
  return error;
}

for (const mode of MODES) {
  Deno.test(`echo of a 3 MiB message and 1,000 small ones [${mode.name}]`, async () => {
    await using server = await startServer();
    const dialed = await dialWebSocket(server.url("/echo"), {
      protocols: [PROTOCOL],
      ...mode.options(server.caCert),
    });
    try {
      assert.equal(dialed.protocol, PROTOCOL);
      const writer = dialed.conn.writable.getWriter();
      const reader = dialed.conn.readable.getReader();
      const big = randomBytes(3 * 1024 * 1024);
      await writer.write(big);
      const echoed = await within(10_000, "3 MiB echo", readBytes(reader, big.length));
      assert.equal(sha256(echoed), sha256(big));

      const small = Array.from({ length: 1000 }, (_, i) => randomBytes(1 + (i % 97)));
      const total = small.reduce((n, m) => n + m.length, 0);
      const reading = readBytes(reader, total);
      for (const m of small) await writer.write(m);
      const joined = await within(10_000, "small echoes", reading);
      const sent = new Uint8Array(total);
      small.reduce((off, m) => (sent.set(m, off), off + m.length), 0);
      assert.deepEqual(joined, sent);
      reader.releaseLock();
      writer.releaseLock();
    } finally {
      dialed.close();
      await within(5_000, "client closed", dialed.closed);
    }
  });

  Deno.test(`refused upgrade reports the HTTP status [${mode.name}]`, async () => {
    await using server = await startServer();
    const options = { protocols: [PROTOCOL], ...mode.options(server.caCert) };
    const e404 = await dialFails(dialWebSocket(server.url("/404"), options), "refused");
    assert.equal(e404.status, 404);
    assert.match(e404.message, /HTTP 404 Not Found/);
    assert.match(e404.message, /No agent endpoint here/);
    const e401 = await dialFails(dialWebSocket(server.url("/auth"), options), "refused");
    assert.equal(e401.status, 401);
    assert.match(e401.message, /HTTP 401/);
  });

  Deno.test(`extra headers reach the server [${mode.name}]`, async () => {
    await using server = await startServer();
    const dialed = await dialWebSocket(server.url("/auth"), {
      protocols: [PROTOCOL],
      headers: { authorization: "Bearer sesame" },
      ...mode.options(server.caCert),
    });
    dialed.close();
    await within(5_000, "client closed", dialed.closed);
  });

  Deno.test(`server that chooses no subprotocol is refused [${mode.name}]`, async () => {
    await using server = await startServer();
    const options = { protocols: [PROTOCOL], ...mode.options(server.caCert) };
    const e = await dialFails(dialWebSocket(server.url("/noproto"), options), "subprotocol");
    assert.match(e.message, /chose no subprotocol, this client speaks burrow\.v1/);
  });

  Deno.test(`client close ends the server's readable, and back [${mode.name}]`, async () => {
    await using server = await startServer();
    const options = { protocols: [PROTOCOL], ...mode.options(server.caCert) };

    // Client closes: the server side's readable ends cleanly.
    const first = await dialWebSocket(server.url("/hold"), options);
    const serverConn = await fromWebSocket(await server.takeHeld());
    first.close();
    const serverRead = await within(5_000, "server EOF", serverConn.readable.getReader().read());
    assert.equal(serverRead.done, true);
    await within(5_000, "client closed", first.closed);

    // Server closes: the client's readable ends cleanly.
    const second = await dialWebSocket(server.url("/hold"), options);
    const serverSocket = await server.takeHeld();
    serverSocket.close(1000);
    const clientRead = await within(5_000, "client EOF", second.conn.readable.getReader().read());
    assert.equal(clientRead.done, true);
    await within(5_000, "client closed", second.closed);
    await assert.rejects(second.conn.writable.getWriter().write(new Uint8Array(1)), /closed/);
  });
}

Deno.test("dial without the CA fails with a certificate error", async () => {
  await using server = await startServer();
  const e = await dialFails(
    dialWebSocket(server.url("/echo"), { protocols: [PROTOCOL] }),
    "certificate",
  );
  assert.match(e.message, /certificate is not trusted \(invalid peer certificate: UnknownIssuer\)/);
  assert.match(e.message, /pass its CA certificate, or dial insecure$/);
});

Deno.test("dial trusting another CA fails with a certificate error", async () => {
  await using server = await startServer();
  const other = await makeCertificates({ hostnames: ["localhost"] });
  const e = await dialFails(
    dialWebSocket(server.url("/echo"), { protocols: [PROTOCOL], caCerts: [other.caCert] }),
    "certificate",
  );
  // Both CAs bear the same name: the chain is built, and its signature fails.
  assert.match(e.message, /certificate is not trusted \(invalid peer certificate: BadSignature\)/);
});

Deno.test("dial with the CA to a name or address the certificate lacks fails with a certificate error", async () => {
  await using server = await startServer({ hostnames: ["tunnel.example"] });
  const options = { protocols: [PROTOCOL], caCerts: [server.caCert] };
  const byName = await dialFails(dialWebSocket(server.url("/echo"), options), "certificate");
  assert.match(byName.message, /certificate is not valid for "localhost" \(NotValidForName: /);
  assert.match(byName.message, /DnsName\("tunnel\.example"\)/);
  assert.match(byName.message, /dial a name it lists, or dial insecure$/);
  // No SNI for an address: it is checked against the certificate's IP names.
  const byAddress = await dialFails(
    dialWebSocket(server.url("/echo", "127.0.0.1"), options),
    "certificate",
  );
  assert.match(byAddress.message, /not valid for "127\.0\.0\.1" \(NotValidForName: /);
  // Insecure mode checks neither the chain nor the name.
  const dialed = await dialWebSocket(server.url("/echo"), {
    protocols: [PROTOCOL],
    insecure: true,
  });
  dialed.close();
  await within(5_000, "client closed", dialed.closed);
});

Deno.test("dial by IP address to a certificate that lists it succeeds", async () => {
  await using server = await startServer();
  const dialed = await dialWebSocket(server.url("/echo", "127.0.0.1"), {
    protocols: [PROTOCOL],
    caCerts: [server.caCert],
  });
  dialed.close();
  await within(5_000, "client closed", dialed.closed);
});

Deno.test("ws:// dials, and insecure changes nothing there", async () => {
  await using server = await startServer({ tls: false });
  for (const insecure of [false, true]) {
    const dialed = await dialWebSocket(server.url("/echo"), { protocols: [PROTOCOL], insecure });
    const writer = dialed.conn.writable.getWriter();
    const reader = dialed.conn.readable.getReader();
    await writer.write(new Uint8Array([1, 2, 3]));
    assert.deepEqual(await within(5_000, "echo", readBytes(reader, 3)), new Uint8Array([1, 2, 3]));
    reader.releaseLock();
    writer.releaseLock();
    dialed.close();
    await within(5_000, "client closed", dialed.closed);
  }
  const e = await dialFails(
    dialWebSocket(server.url("/404"), { protocols: [PROTOCOL] }),
    "refused",
  );
  assert.equal(e.status, 404);
});

Deno.test("dial to a closed port fails with a connect error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  for (const insecure of [false, true]) {
    await dialFails(
      dialWebSocket(`wss://127.0.0.1:${port}/`, { protocols: [PROTOCOL], insecure }),
      "connect",
    );
  }
});

Deno.test("dial to a server that never answers times out", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    for (const insecure of [false, true]) {
      const start = performance.now();
      const e = await dialFails(
        dialWebSocket(`wss://127.0.0.1:${listener.addr.port}/`, {
          protocols: [PROTOCOL],
          insecure,
          timeout: 300,
        }),
        "timeout",
      );
      assert.match(e.message, /no answer within 300 ms/);
      assert.ok(performance.now() - start < 5_000);
    }
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of accepted) conn.close();
  }
});

Deno.test("an aborted signal stops the dial", async () => {
  await using server = await startServer();
  const controller = new AbortController();
  controller.abort(new Error("shutting down"));
  await dialFails(
    dialWebSocket(server.url("/echo"), { protocols: [PROTOCOL], signal: controller.signal }),
    "aborted",
  );
});

Deno.test("aborting during the TLS handshake stops the dial at once", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  for (const insecure of [false, true]) {
    const controller = new AbortController();
    // By address, not `localhost`: where /etc/hosts also maps localhost to ::1 (CI's
    // machines do), node:tls (the insecure dial) tries ::1 first and Deno's node:net
    // leaves that attempt's 250 ms fallback timer running after the refusal, a leak
    // when the test ends sooner.
    const dialing = dialWebSocket(`wss://127.0.0.1:${listener.addr.port}/`, {
      protocols: [PROTOCOL],
      insecure,
      signal: controller.signal,
    });
    // The server takes the connection and never answers the ClientHello.
    const conn = await within(5_000, "accept", listener.accept());
    try {
      controller.abort(new Error("shutting down"));
      const e = await dialFails(dialing, "aborted");
      assert.match(e.message, /aborted$/);
      assert.equal(e.cause instanceof Error && e.cause.message, "shutting down");
      // node:tls drops the socket at once; Deno's TLS cannot, so on Linux the dial shuts
      // the connection down through libc (see dial.ts): the server sees the end either way.
      if (insecure || Deno.build.os === "linux") {
        assert.equal(await within(5_000, "server EOF", readToEnd(conn)), null);
      }
    } finally {
      conn.close();
    }
  }
});

/** Reads and drops what the peer sends (a ClientHello, say) until the end; resolves null. */
async function readToEnd(conn: Deno.Conn): Promise<null> {
  const buffer = new Uint8Array(4096);
  try {
    while (await conn.read(buffer) !== null);
  } catch (e) {
    if (!(e instanceof Deno.errors.ConnectionReset)) throw e;
  }
  return null;
}

Deno.test("wss:// to a server that speaks plain HTTP fails with a connect error", async () => {
  await using server = await startServer({ tls: false });
  for (const insecure of [false, true]) {
    const url = server.url("/echo").replace(/^ws:/, "wss:");
    await dialFails(dialWebSocket(url, { protocols: [PROTOCOL], insecure }), "connect");
  }
});

Deno.test("invalid URLs, subprotocols and reserved headers are TypeErrors", async () => {
  await assert.rejects(dialWebSocket("https://localhost/", { protocols: [PROTOCOL] }), TypeError);
  await assert.rejects(dialWebSocket("wss://localhost/", { protocols: ["a b"] }), TypeError);
  await assert.rejects(
    dialWebSocket("wss://localhost/", { protocols: [PROTOCOL], headers: { upgrade: "h2c" } }),
    TypeError,
  );
});

for (const mode of MODES) {
  Deno.test(`a yamux session runs over the dialled connection, 1 MiB each way [${mode.name}]`, async () => {
    await using server = await startServer();
    const dialed = await dialWebSocket(server.url("/hold"), {
      protocols: [PROTOCOL],
      ...mode.options(server.caCert),
    });
    const client = new Session(dialed.conn, { client: true });
    const peer = new Session(await fromWebSocket(await server.takeHeld()), { client: false });
    try {
      const up = randomBytes(1024 * 1024);
      const down = randomBytes(1024 * 1024);
      const upstream = await client.open();
      const sending = writeAll(upstream.writable, up, { chunk: 50_000 });
      const accepted = (await within(5_000, "accept upstream", peer.accept()))!;
      const gotUp = await within(10_000, "1 MiB up", readAll(accepted.readable));
      await sending;
      assert.equal(sha256(gotUp), sha256(up));

      const downstream = await peer.open();
      const sendingDown = writeAll(downstream.writable, down, { chunk: 70_000 });
      const acceptedDown = (await within(5_000, "accept downstream", client.accept()))!;
      const gotDown = await within(10_000, "1 MiB down", readAll(acceptedDown.readable));
      await sendingDown;
      assert.equal(sha256(gotDown), sha256(down));
      await Promise.all([accepted.writable.close(), acceptedDown.writable.close()]);
    } finally {
      await client.close();
      await peer.close();
      await within(5_000, "client closed", dialed.closed);
    }
  });
}

/** Every way of dialling: TLS trusting the CA, TLS unchecked, plain ws://. */
const TRANSPORTS = [
  ...MODES.map((mode) => ({ ...mode, tls: true })),
  { name: "ws://", options: () => ({}), tls: false },
];

for (const transport of TRANSPORTS) {
  Deno.test(`a reply written in two bursts ${BURST_GAP_MS} ms apart is not held by Nagle's algorithm [${transport.name}]`, async () => {
    await using server = await startServer({ tls: transport.tls });
    const dialed = await dialWebSocket(server.url("/hold"), {
      protocols: [PROTOCOL],
      ...transport.options(server.caCert),
    });
    const agent = new Session(dialed.conn, { client: true });
    const tunnel = new Session(await fromWebSocket(await server.takeHeld()), { client: false });
    const answering = answerInBursts(agent);
    try {
      const times: number[] = [];
      for (let i = 0; i < 10; i++) {
        times.push(await within(5_000, `exchange ${i}`, exchange(tunnel)));
      }
      const third = times.toSorted((a, b) => a - b)[2]!;
      // On loopback an exchange costs the 3 ms gap plus a few round trips of
      // tens of microseconds and some scheduling, about 5 ms. With Nagle's
      // algorithm on the dialled socket, the second write waits for the ACK
      // of the first, which the server delays (40 ms at least on Linux):
      // every exchange takes 44 ms or more, but for the first one or two that
      // Linux's quick-ACK start may let through (27.7 ms seen). A busy host
      // only adds time (the median of 10 was 22 ms under the parallel suite
      // on 2 cores), so the third fastest is what tells the two apart.
      assert.ok(
        third < 25,
        `third fastest exchange ${third.toFixed(1)} ms: ${
          times.map((t) => t.toFixed(1)).join(", ")
        }`,
      );
    } finally {
      await tunnel.close();
      await within(5_000, "agent side done", answering);
      await agent.close();
      await within(5_000, "client closed", dialed.closed);
    }
  });
}
