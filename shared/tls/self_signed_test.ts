// @peculiar/x509 needs the Reflect metadata API before it is evaluated
// (self_signed.ts loads both only when it makes a certificate).
import "reflect-metadata";
import { type Certificates, makeCertificates } from "./self_signed.ts";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";

const HOSTNAMES = ["localhost", "127.0.0.1", "::1"];

let cached: Promise<Certificates> | undefined;
/** One set of certificates for the whole file: P-256 keys are cheap, but not free. */
function certificates(): Promise<Certificates> {
  cached ??= makeCertificates({ hostnames: HOSTNAMES });
  return cached;
}

/** Reads exactly `n` bytes, failing on an early EOF. */
async function readExact(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got));
    if (read === null) throw new Error(`EOF after ${got} of ${n} bytes`);
    got += read;
  }
  return out;
}

/** Writes all of `data` (`Conn.write` may write less than it was given). */
async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let sent = 0;
  while (sent < data.length) sent += await conn.write(data.subarray(sent));
}

/** Accepts one TLS connection, echoes `size` bytes back with every byte inverted, closes. */
async function echoOnce(listener: Deno.TlsListener, size: number): Promise<void> {
  const conn = await listener.accept();
  try {
    const data = await readExact(conn, size);
    await writeAll(conn, data.map((b) => b ^ 0xff));
  } finally {
    conn.close();
  }
}

/** Connects to `listener` by `hostname`, trusting `caCert`, and checks a round trip. */
async function roundTrip(listener: Deno.TlsListener, hostname: string, caCert: string) {
  const size = 100_000;
  const sent = Uint8Array.from({ length: size }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
  const served = echoOnce(listener, size);
  const client = (async () => {
    const conn = await Deno.connectTls({ hostname, port: listener.addr.port, caCerts: [caCert] });
    try {
      assert.equal((await conn.handshake()).alpnProtocol, null);
      await writeAll(conn, sent);
      const back = await readExact(conn, size);
      assert.deepEqual(back, sent.map((b) => b ^ 0xff));
      assert.equal(await conn.read(new Uint8Array(1)), null, "EOF after the echo");
    } finally {
      conn.close();
    }
  })();
  const [clientResult, serverResult] = await Promise.allSettled([client, served]);
  if (clientResult.status === "rejected") throw clientResult.reason;
  if (serverResult.status === "rejected") throw serverResult.reason;
}

Deno.test("makeCertificates() returns PEM CA, leaf and PKCS#8 key", async () => {
  const { caCert, cert, key } = await certificates();
  assert.match(caCert, /^-----BEGIN CERTIFICATE-----\n/);
  assert.match(cert, /^-----BEGIN CERTIFICATE-----\n/);
  assert.match(key, /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n?$/);
});

Deno.test("makeCertificates() makes a CA and a leaf it signed, with DNS and IP names", async () => {
  const { caCert, cert } = await certificates();
  const ca = new x509.X509Certificate(caCert);
  const leaf = new x509.X509Certificate(cert);

  assert.equal(ca.getExtension(x509.BasicConstraintsExtension)?.ca, true);
  const caUsage = ca.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
  assert.ok(caUsage & x509.KeyUsageFlags.keyCertSign);
  assert.equal(await ca.verify({ signatureOnly: true }, crypto), true);

  assert.equal(leaf.issuer, ca.subject);
  assert.equal(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true }, crypto), true);
  assert.equal(leaf.getExtension(x509.BasicConstraintsExtension)?.ca, false);
  assert.deepEqual([...leaf.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []], [
    x509.ExtendedKeyUsage.serverAuth,
  ]);
  const names = leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON();
  assert.deepEqual(names, [
    { type: "dns", value: "localhost" },
    { type: "ip", value: "127.0.0.1" },
    { type: "ip", value: "::1" },
  ]);
});

Deno.test("makeCertificates() honours days", async () => {
  const { cert } = await makeCertificates({ hostnames: ["localhost"], days: 2 });
  const leaf = new x509.X509Certificate(cert);
  const days = (leaf.notAfter.getTime() - Date.now()) / 86_400_000;
  assert.ok(days > 1.9 && days <= 2, `valid for ${days} more days`);
  assert.ok(leaf.notBefore.getTime() < Date.now());
});

Deno.test("makeCertificates() rejects no hostnames and non-positive days", async () => {
  await assert.rejects(makeCertificates({ hostnames: [] }), RangeError);
  await assert.rejects(makeCertificates({ hostnames: ["localhost"], days: 0 }), RangeError);
  await assert.rejects(makeCertificates({ hostnames: ["localhost"], days: NaN }), RangeError);
});

Deno.test("connectTls() trusting the CA completes a handshake by DNS name (SNI localhost)", async () => {
  const { caCert, cert, key } = await certificates();
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  try {
    await roundTrip(listener, "localhost", caCert);
  } finally {
    listener.close();
  }
});

Deno.test("connectTls() trusting the CA completes a handshake by IP address (no SNI)", async () => {
  const { caCert, cert, key } = await certificates();
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  try {
    await roundTrip(listener, "127.0.0.1", caCert);
  } finally {
    listener.close();
  }
});

Deno.test("connectTls() without the CA rejects the certificate", async () => {
  const { cert, key } = await certificates();
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  try {
    const accepted = listener.accept();
    const conn = await Deno.connectTls({ hostname: "localhost", port: listener.addr.port });
    const server = await accepted;
    try {
      const [client, peer] = await Promise.allSettled([conn.handshake(), server.handshake()]);
      assert.equal(client.status, "rejected");
      assert.match(String(client.reason), /invalid peer certificate: UnknownIssuer/);
      assert.equal(peer.status, "rejected");
    } finally {
      conn.close();
      server.close();
    }
  } finally {
    listener.close();
  }
});

Deno.test("connectTls() rejects a name the leaf was not made for", async () => {
  const { caCert, cert, key } = await makeCertificates({ hostnames: ["burrow.test"] });
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  try {
    const accepted = listener.accept();
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      caCerts: [caCert],
    });
    const server = await accepted;
    try {
      const [client] = await Promise.allSettled([conn.handshake(), server.handshake()]);
      assert.equal(client.status, "rejected");
      assert.match(String(client.reason), /certificate not valid for name "127.0.0.1"/);
    } finally {
      conn.close();
      server.close();
    }
  } finally {
    listener.close();
  }
});
