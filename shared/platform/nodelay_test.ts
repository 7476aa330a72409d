import assert from "node:assert/strict";
import { NoDelayError, setListenerNoDelay } from "./nodelay.ts";

const linuxOnly = { ignore: Deno.build.os !== "linux" };

Deno.test("setListenerNoDelay() finds the listening socket of a port", linuxOnly, () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const fds = setListenerNoDelay(listener.addr.port);
  assert.equal(fds.length, 1);
  assert.equal(setListenerNoDelay(listener.addr.port).length, 1, "setting it twice is harmless");
});

Deno.test("setListenerNoDelay() ignores connections on the port", linuxOnly, async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using accepted = await listener.accept();
  assert.ok(client && accepted);
  assert.equal(setListenerNoDelay(listener.addr.port).length, 1);
});

Deno.test("setListenerNoDelay() rejects a port nobody listens on", linuxOnly, () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  assert.throws(
    () => setListenerNoDelay(port),
    (e) => e instanceof NoDelayError && e.code === "not-found",
  );
});

Deno.test("setListenerNoDelay() reports a missing FFI permission", {
  ...linuxOnly,
  permissions: { read: true, net: true, ffi: false },
}, () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  assert.throws(
    () => setListenerNoDelay(listener.addr.port),
    (e) => e instanceof NoDelayError && e.code === "permission",
  );
});
