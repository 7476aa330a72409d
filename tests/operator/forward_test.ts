import assert from "node:assert/strict";
import { OperatorLink } from "../../operator/link.ts";
import { parseForwardSpec } from "../../operator/spec.ts";
import { TcpForwarder } from "../../operator/tcp_forward.ts";
import { echo, tcpTarget } from "../forward/helpers.ts";
import { randomBytes, sha256, within } from "../helpers/streams.ts";
import { TestOperatorServer } from "./server.ts";

/** Sends `data` through `port`, then half-closes, while reading up to `expect` bytes until EOF. */
async function exchange(port: number, data: Uint8Array, expect = data.length): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const writing = (async () => {
      for (let at = 0; at < data.length; at += 65536) {
        const chunk = data.subarray(at, Math.min(data.length, at + 65536));
        let off = 0;
        while (off < chunk.length) off += await conn.write(chunk.subarray(off));
      }
      await conn.closeWrite();
    })();
    const out = new Uint8Array(expect);
    let got = 0;
    const buf = new Uint8Array(65536);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      assert.ok(got + n <= expect, "more bytes back than expected");
      out.set(buf.subarray(0, n), got);
      got += n;
    }
    await writing;
    return out.subarray(0, got);
  } finally {
    conn.close();
  }
}

/** A target that sends `data` back for whatever it reads, then closes: a download. */
function source(data: Uint8Array) {
  return tcpTarget(async (conn) => {
    let at = 0;
    while (at < data.length) at += await conn.write(data.subarray(at));
    await conn.closeWrite();
    const buf = new Uint8Array(1024);
    while ((await conn.read(buf)) !== null) {
      // drain until the client's FIN
    }
  });
}

Deno.test("TcpForwarder carries 10 MiB both ways through two forwards on one operator session", async () => {
  await using server = await TestOperatorServer.start();
  await using echoTarget = tcpTarget(echo);
  const download = randomBytes(10 * 1024 * 1024);
  await using sourceTarget = source(download);
  const link = await OperatorLink.connect(server.settings());
  const lines: string[] = [];
  const report = (line: string) => lines.push(line);
  const a = TcpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`0:127.0.0.1:${echoTarget.port}`),
    report,
  });
  const b = TcpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`127.0.0.1:0:localhost:${sourceTarget.port}`),
    report,
  });
  try {
    const upload = randomBytes(10 * 1024 * 1024);
    const [echoed, downloaded] = await within(
      60_000,
      "10 MiB both ways",
      Promise.all([
        exchange(a.addr.port, upload),
        exchange(b.addr.port, new Uint8Array(0), download.length),
      ]),
    );
    assert.equal(sha256(echoed), sha256(upload));
    assert.equal(sha256(downloaded), sha256(download));
    assert.deepEqual(lines, []);
    assert.equal(server.sessions.length, 1, "both forwards share one operator session");
    assert.deepEqual(server.opened.map((p) => p.agent), ["db1", "db1"]);
    assert.equal(a.stats.total, 1);
    assert.equal(a.stats.up, upload.length);
    assert.equal(a.stats.down, upload.length);
    assert.equal(b.stats.down, download.length);
    assert.match(a.description, /^127\.0\.0\.1:\d+ -> db1 127\.0\.0\.1:\d+$/);
  } finally {
    await Promise.all([a.close(), b.close(), link.close()]);
  }
  assert.equal(a.stats.open, 0);
});

Deno.test("TcpForwarder tells the agent's refusal as one line and closes that connection", async () => {
  await using server = await TestOperatorServer.start();
  // A port nothing listens on: bind one, note it, close it.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closedPort = probe.addr.port;
  probe.close();
  const link = await OperatorLink.connect(server.settings());
  const lines: string[] = [];
  const refused = TcpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec(`0:127.0.0.1:${closedPort}`),
    report: (line) => lines.push(line),
  });
  const policy = TcpForwarder.listen({
    link,
    agent: "db1",
    spec: parseForwardSpec("0:192.0.2.7:5432"),
    report: (line) => lines.push(line),
  });
  try {
    for (const f of [refused, policy]) {
      const back = await within(
        10_000,
        "refused connection closed",
        exchange(f.addr.port, new Uint8Array(0)),
      );
      assert.equal(back.length, 0);
    }
    assert.equal(lines.length, 2);
    assert.equal(
      lines[0],
      `forward 127.0.0.1:${refused.addr.port} -> db1 127.0.0.1:${closedPort}: ` +
        `connection refused by 127.0.0.1:${closedPort}`,
    );
    assert.match(
      lines[1]!,
      /^forward 127\.0\.0\.1:\d+ -> db1 192\.0\.2\.7:5432: refused by agent policy: /,
    );
    assert.equal(refused.stats.failed, 1);
  } finally {
    await Promise.all([refused.close(), policy.close(), link.close()]);
  }
});
