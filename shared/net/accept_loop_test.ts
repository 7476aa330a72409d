import assert from "node:assert/strict";
import { closeQuietly } from "./accept_loop.ts";

Deno.test("closeQuietly closes a connection once: a second call does not close (and throw) again", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const peer = await accepted;
  let closes = 0;
  const close = conn.close.bind(conn);
  conn.close = () => {
    closes++;
    close();
  };
  closeQuietly(conn);
  closeQuietly(conn);
  assert.equal(closes, 1);
  assert.equal(await peer.read(new Uint8Array(1)), null);
  peer.close();
});
