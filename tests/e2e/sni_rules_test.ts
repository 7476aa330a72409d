/**
 * Certificate rules as groom has them: regular expressions beside the exact,
 * `*.x` and `*` patterns, and a certificate list per listener beside the
 * global one, through real TLS handshakes.
 */
import assert from "node:assert/strict";
import { connect } from "node:tls";
import { World } from "./world.ts";

/** The subject CN of the certificate presented on `port` for `serverName`. */
function certificateFor(port: number, serverName: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: "127.0.0.1", port, servername: serverName, rejectUnauthorized: false },
      () => {
        const cn = socket.getPeerCertificate().subject?.CN;
        socket.end();
        resolve(String(cn));
      },
    );
    socket.on("error", reject);
  });
}

Deno.test("SNI: regex rules and a listener's own certificate list pick the certificate", async () => {
  const world = await World.create({
    listen: [
      { address: "127.0.0.1:0", sni: true },
      {
        address: "127.0.0.1:0",
        certificates: [{ pattern: "*", cert: "other-cert.pem", key: "other-key.pem" }],
      },
    ],
    certificates: [
      { regex: "^api[0-9]+\\.example$", cert: "other-cert.pem", key: "other-key.pem" },
      { pattern: "*", cert: "cert.pem", key: "key.pem" },
    ],
  });
  try {
    const [global, own] = world.server.addrs.map((a) => a.port) as [number, number];
    assert.equal(await certificateFor(global, "api12.example"), "other.example");
    assert.equal(await certificateFor(global, "API7.Example"), "other.example");
    assert.equal(await certificateFor(global, "xapi1.example"), "127.0.0.1");
    assert.equal(await certificateFor(global, "api.example"), "127.0.0.1");
    assert.equal(await certificateFor(global, "app.test"), "127.0.0.1");
    // The second listener has its own list and ignores the global one.
    assert.equal(await certificateFor(own, "app.test"), "other.example");
    assert.equal(await certificateFor(own, "api12.example"), "other.example");
  } finally {
    await world.close();
  }
});
