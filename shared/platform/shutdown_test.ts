import assert from "node:assert/strict";
import { shutdownConnection } from "./shutdown.ts";

Deno.test({
  name: "shutdownConnection() ends a connection both ways; unknown ones are left alone",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    using server = await listener.accept();
    assert.equal(
      shutdownConnection(client.localAddr, { ...client.remoteAddr, port: 1 }),
      false,
      "no such connection",
    );
    assert.equal(shutdownConnection(client.localAddr, client.remoteAddr), true);
    assert.equal(await server.read(new Uint8Array(16)), null, "the peer sees the end");
    assert.equal(await client.read(new Uint8Array(16)), null, "our own reads end too");
  },
});
