import assert from "node:assert/strict";
import { dialOperator, OperatorDialError } from "../../operator/dial.ts";
import { LinkError, OperatorLink } from "../../operator/link.ts";
import { parseForwardSpec } from "../../operator/spec.ts";
import { TcpForwarder } from "../../operator/tcp_forward.ts";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { within } from "../helpers/streams.ts";
import { TestOperatorServer } from "./server.ts";

Deno.test("OperatorLink redials a lost session; a connection after the loss goes through on the new session", async () => {
  await using server = await TestOperatorServer.start();
  await using target = tcpTarget(echo);
  const events: string[] = [];
  const lost = Promise.withResolvers<void>();
  const link = await OperatorLink.connect(server.settings(), {
    onEvent: (line) => {
      events.push(line);
      if (line.startsWith("lost")) lost.resolve();
    },
    backoff: { min: 50, max: 200 },
  });
  const lines: string[] = [];
  const forwarder = TcpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`0:127.0.0.1:${target.port}`),
    report: (line) => lines.push(line),
  });
  try {
    await server.dropSessions();
    await within(10_000, "session loss noticed", lost.promise);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: forwarder.addr.port });
    try {
      await conn.write(new TextEncoder().encode("again"));
      const buf = new Uint8Array(5);
      let got = 0;
      while (got < 5) {
        const n = await within(10_000, "echo after the redial", conn.read(buf.subarray(got)));
        assert.notEqual(n, null, `closed: ${lines.join("; ")}`);
        got += n!;
      }
      assert.equal(new TextDecoder().decode(buf), "again");
    } finally {
      conn.close();
    }
    assert.equal(server.sessions.length, 2);
    assert.match(events[0]!, /^lost the operator session to 127\.0\.0\.1:\d+: .*; reconnecting$/);
    assert.ok(events.some((e) => /^reconnected to 127\.0\.0\.1:\d+$/.test(e)), events.join("; "));
  } finally {
    await Promise.all([forwarder.close(), link.close()]);
  }
});

Deno.test("OperatorLink.session() fails with a clear line when the session does not come back in time", async () => {
  await using server = await TestOperatorServer.start();
  let dials = 0;
  const lost = Promise.withResolvers<void>();
  const link = await OperatorLink.connect(server.settings(), {
    dial: (settings, signal) => {
      if (++dials === 1) return dialOperator(settings, { signal });
      return Promise.reject(
        new OperatorDialError("server refused the token (401): check", "unauthorized"),
      );
    },
    onEvent: (line) => line.startsWith("lost") && lost.resolve(),
    backoff: { min: 20, max: 50 },
    waitTimeout: 500,
  });
  try {
    await server.dropSessions();
    await within(10_000, "session loss noticed", lost.promise);
    await assert.rejects(within(10_000, "session() to give up", link.session()), (e: Error) => {
      assert.ok(e instanceof LinkError, e.message);
      assert.equal(e.code, "down");
      assert.match(
        e.message,
        /^not connected to 127\.0\.0\.1:\d+ \(reconnecting; last try: server refused the token \(401\)/,
      );
      return true;
    });
    assert.ok(dials >= 2);
  } finally {
    await link.close();
  }
  await assert.rejects(link.session(), LinkError);
});
