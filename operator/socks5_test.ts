import assert from "node:assert/strict";
import {
  encodeSocksReply,
  MAX_HANDSHAKE_BYTES,
  readSocksRequest,
  type SocksConn,
  SocksError,
  SocksReply,
  socksReplyFor,
} from "./socks5.ts";

/** A connection that hands out `input` in chunks of `size` bytes and records what is written. */
function scripted(input: number[], size: number): SocksConn & { written: number[] } {
  let at = 0;
  const written: number[] = [];
  return {
    written,
    read(buf) {
      if (at >= input.length) return Promise.resolve(null);
      const n = Math.min(size, buf.length, input.length - at);
      buf.set(input.slice(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
    write(bytes) {
      written.push(...bytes);
      return Promise.resolve(bytes.length);
    },
  };
}

const GREETING = [5, 2, 2, 0];

Deno.test("readSocksRequest() reads CONNECT to a name, IPv4 and IPv6, whatever the chunking", async () => {
  const name = [...new TextEncoder().encode("db.lan")];
  const cases: [number[], string][] = [
    [[5, 1, 0, 3, name.length, ...name, 0x15, 0x38], "db.lan"],
    [[5, 1, 0, 1, 10, 0, 0, 7, 0x15, 0x38], "10.0.0.7"],
    [[5, 1, 0, 4, 0xfd, 0, ...new Array(13).fill(0), 5, 0x15, 0x38], "fd00::5"],
  ];
  for (const [request, host] of cases) {
    for (const size of [1, 3, 1024]) {
      const conn = scripted([...GREETING, ...request, 9, 9], size);
      const got = await readSocksRequest(conn);
      assert.equal(got.host, host);
      assert.equal(got.port, 5432);
      assert.deepEqual(conn.written, [5, 0], "no auth chosen");
      // Bytes after the request are kept for the target (only when they came in the same read).
      if (size === 1024) assert.deepEqual([...got.early], [9, 9]);
    }
  }
});

Deno.test("readSocksRequest() refuses what it does not support, with the right reply", async () => {
  const cases: [number[], number | null, RegExp, number[]][] = [
    [[4, 1, 0, 80], null, /SOCKS4/, []],
    [[5, 1, 2], null, /no method without authentication/, [5, 0xff]],
    [[...GREETING, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80], SocksReply.CommandNotSupported, /BIND/, [5, 0]],
    [[...GREETING, 5, 3, 0, 1, 1, 2, 3, 4, 0, 80], 0x07, /UDP ASSOCIATE/, [5, 0]],
    [[...GREETING, 5, 1, 0, 9, 1, 2], SocksReply.AddressTypeNotSupported, /address type 9/, [5, 0]],
    [[...GREETING, 5, 1, 0, 3, 2, 0x20, 0x41, 0, 80], SocksReply.GeneralFailure, /invalid domain/, [
      5,
      0,
    ]],
    [[...GREETING, 5, 1], null, /closed during the handshake/, [5, 0]],
  ];
  for (const [input, reply, message, written] of cases) {
    const conn = scripted(input, 1024);
    await assert.rejects(readSocksRequest(conn), (e: Error) => {
      assert.ok(e instanceof SocksError, e.message);
      assert.equal(e.reply, reply, e.message);
      assert.match(e.message, message);
      return true;
    });
    assert.deepEqual(conn.written, written);
  }
  assert.equal(MAX_HANDSHAKE_BYTES, 519);
});

Deno.test("socksReplyFor() maps forward error codes to SOCKS reply codes", () => {
  assert.equal(socksReplyFor("policy"), 0x02);
  assert.equal(socksReplyFor("unauthorized"), 0x02);
  assert.equal(socksReplyFor("unreachable"), 0x03);
  assert.equal(socksReplyFor("agent-offline"), 0x03);
  assert.equal(socksReplyFor("dns"), 0x04);
  assert.equal(socksReplyFor("connection-refused"), 0x05);
  assert.equal(socksReplyFor("timeout"), 0x06);
  assert.equal(socksReplyFor("open-failed"), 0x01);
  assert.deepEqual([...encodeSocksReply(0x05)], [5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
});
