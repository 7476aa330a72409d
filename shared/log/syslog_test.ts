import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { setupLogging } from "./setup.ts";
import { within } from "../../tests/helpers/streams.ts";

/** A UDP syslog server on 127.0.0.1: resolves its port, collects messages. */
async function udpServer() {
  const socket = createSocket("udp4");
  const messages: string[] = [];
  let wake = () => {};
  socket.on("message", (data: Uint8Array) => {
    messages.push(new TextDecoder().decode(data));
    wake();
  });
  const listening = Promise.withResolvers<void>();
  socket.bind(0, "127.0.0.1", () => listening.resolve());
  await listening.promise;
  const port = (socket.address() as { port: number }).port;
  return {
    port,
    messages,
    /** Resolves once `n` messages arrived. */
    async received(n: number) {
      while (messages.length < n) await new Promise<void>((r) => wake = r);
    },
    close: () => new Promise<void>((r) => socket.close(() => r())),
  };
}

Deno.test("a syslog sink sends RFC 5424 messages: system text and access JSON lines", async () => {
  const server = await udpServer();
  try {
    const target = {
      type: "syslog" as const,
      hostname: "127.0.0.1",
      port: server.port,
      protocol: "udp" as const,
      facility: "local4" as const,
      appName: "public1",
    };
    const logging = await setupLogging({
      level: "info",
      system: [target],
      access: [target],
      unavailable: false,
    }, { role: "server" });
    logging.child("agent#a1").warn("agent {id} slow", { id: "a1", ms: 1500 });
    logging.access({
      domain: "example.com",
      client: "203.0.113.7",
      method: "GET",
      path: "/x",
      status: 200,
      bytesIn: 0,
      bytesOut: 1,
      durationMs: 1,
      tid: "t1",
      agent: "a1",
    });
    await server.received(2);
    await logging.close();
    const [system, access] = [...server.messages].sort((a) => a.includes('"path"') ? 1 : -1);
    // local4 = 20, warning = 4: <164>; info = 6: <166>.
    assert.match(
      system!,
      /^<164>1 \S+ \S+ public1 \d+ - - server: agent#a1: agent a1 slow \{ms: 1500\}$/,
    );
    assert.match(access!, /^<166>1 \S+ \S+ public1 \d+ - - \{"time":.*"path":"\/x".*\}$/);
  } finally {
    await server.close();
  }
});

Deno.test("a syslog server that is down fails no caller and leaves no rejection behind", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const { syslogSink } = await import("./syslog.ts");
  const sink = syslogSink(
    { hostname: "127.0.0.1", port, protocol: "tcp", facility: "daemon", appName: "burrow" },
    (r) => String(r.message[0]),
  );
  const record = {
    category: ["burrow"],
    level: "error" as const,
    message: ["lost"],
    rawMessage: "lost",
    properties: {},
    timestamp: Date.now(),
  };
  const stderr = Deno.stderr.writeSync;
  const said: string[] = [];
  const reported = Promise.withResolvers<void>();
  Deno.stderr.writeSync = (p: Uint8Array) => {
    said.push(new TextDecoder().decode(p));
    reported.resolve();
    return p.length;
  };
  try {
    sink(record);
    // Once the failed connect is reported, send again through the fresh connection.
    await within(10_000, "the failure report", reported.promise);
    sink(record);
    await sink[Symbol.asyncDispose]();
  } finally {
    Deno.stderr.writeSync = stderr;
  }
  assert.equal(said.length, 1, "reported once");
  assert.match(said[0]!, new RegExp(`^burrow: syslog tcp://127.0.0.1:${port}: `));
});
