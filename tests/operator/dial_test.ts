import assert from "node:assert/strict";
import { dialOperator, OperatorDialError } from "../../operator/dial.ts";
import { openTcpForward } from "../../shared/forward/open.ts";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { TestOperatorServer } from "./server.ts";

async function dialFails(promise: Promise<unknown>, code: string, message: RegExp) {
  await assert.rejects(promise, (e: Error) => {
    assert.ok(e instanceof OperatorDialError, `${e.name}: ${e.message}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("dialOperator() opens a session with the token and carries a TcpForward with extra params", async () => {
  await using server = await TestOperatorServer.start();
  await using target = tcpTarget(echo);
  const op = await dialOperator(server.settings());
  try {
    const forward = await openTcpForward(op.session, "127.0.0.1", target.port, {
      params: { agent: "db1", kind: "socks" },
    });
    await forward.stream.write(new TextEncoder().encode("ping"));
    forward.stream.closeWrite();
    assert.equal(new TextDecoder().decode((await forward.stream.read())!), "ping");
    assert.equal(await forward.stream.read(), null);
    assert.deepEqual(server.opened, [{
      agent: "db1",
      kind: "socks",
      host: "127.0.0.1",
      port: target.port,
    }]);
  } finally {
    await op.close();
  }
});

Deno.test("dialOperator() turns 401, 403, 426, 503 and a missing CA file into one clear line", async () => {
  {
    await using server = await TestOperatorServer.start();
    await dialFails(
      dialOperator(server.settings({ token: "wrong" })),
      "unauthorized",
      /^server refused the token \(401\): check --token-file/,
    );
    await dialFails(
      dialOperator(server.settings({ caFile: "/no/such/ca.pem" })),
      "ca-file",
      /^cannot read the CA file \/no\/such\/ca\.pem: no such file$/,
    );
    await dialFails(
      dialOperator(server.settings({ caFile: null })),
      "certificate",
      /certificate is not trusted/,
    );
  }
  for (
    const [status, code, message] of [
      [426, "version", /^server does not speak burrow\.v1 \(426\)/],
      [503, "refused", /^server is at its limit of operator connections \(503\)/],
    ] as const
  ) {
    await using server = await TestOperatorServer.start({ status });
    await dialFails(dialOperator(server.settings()), code, message);
  }
  {
    await using server = await TestOperatorServer.start({
      forbid: "203.0.113.9 is not in alice's networks",
    });
    await dialFails(
      dialOperator(server.settings()),
      "forbidden",
      /^server refused this client's address \(403\): 203\.0\.113\.9 is not in alice's networks$/,
    );
  }
});

Deno.test("dialOperator() with insecure skips verification of the server's certificate", async () => {
  await using server = await TestOperatorServer.start();
  const op = await dialOperator(server.settings({ caFile: null, insecure: true }));
  await op.close();
  assert.equal(op.session.isClosed, true);
});
