/**
 * DenoSocket over loopback TCP: writes in order and whole, reads after
 * close, half-close.
 */
import assert from "node:assert/strict";
import { DenoSocket } from "./deno_socket.ts";
import { randomBytes, sha256, within } from "../../tests/helpers/streams.ts";

/** A connected pair: our socket and the raw server side. */
async function pair(): Promise<{ socket: DenoSocket; peer: Deno.Conn }> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const socket = new DenoSocket(
    await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
  );
  return { socket, peer: await accepted };
}

async function readAllFrom(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  for (let n; (n = await conn.read(buffer)) !== null;) parts.push(buffer.slice(0, n));
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  parts.reduce((off, p) => (out.set(p, off), off + p.length), 0);
  return out;
}

Deno.test("writes started together arrive whole and in order", async () => {
  const { socket, peer } = await pair();
  try {
    // Big enough that the kernel takes each in several parts while the peer reads.
    const parts = [randomBytes(8 << 20), randomBytes(10), randomBytes(3 << 20), randomBytes(1)];
    const receiving = readAllFrom(peer);
    await Promise.all(parts.map((p) => socket.write(p)));
    await socket.closeWrite();
    const got = await within(10_000, "all bytes", receiving);
    const sent = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
    parts.reduce((off, p) => (sent.set(p, off), off + p.length), 0);
    assert.equal(sha256(got), sha256(sent));
  } finally {
    socket.close();
    peer.close();
  }
});

Deno.test("close() ends a read in progress with null and fails later writes", async () => {
  const { socket, peer } = await pair();
  try {
    const reading = socket.read(new Uint8Array(100));
    socket.close();
    assert.equal(await within(5_000, "read ends", reading), null);
    assert.equal(await socket.read(new Uint8Array(100)), null);
    await assert.rejects(socket.write(new Uint8Array(1)), Deno.errors.BadResource);
    socket.close(); // twice is fine
    assert.equal(await within(5_000, "peer EOF", peer.read(new Uint8Array(100))), null);
  } finally {
    peer.close();
  }
});

Deno.test("closeWrite() sends FIN after queued writes; reading goes on", async () => {
  const { socket, peer } = await pair();
  try {
    socket.write(new TextEncoder().encode("last words"));
    await socket.closeWrite();
    assert.equal(new TextDecoder().decode(await readAllFrom(peer)), "last words");
    await peer.write(new TextEncoder().encode("reply"));
    const bytes = await socket.read(new Uint8Array(100));
    assert.equal(new TextDecoder().decode(bytes!), "reply");
  } finally {
    socket.close();
    peer.close();
  }
});
