import assert from "node:assert/strict";
import { ForwardError } from "../../shared/forward/target.ts";
import { Allowlist } from "./allowlist.ts";
import { dialTcp, resolveTarget } from "./dial.ts";

Deno.test("resolveTarget() checks every address of a name and keeps only the allowed ones", async () => {
  let lookups = 0;
  const options = {
    allowlist: new Allowlist(["127.0.0.1:5432", "db.lan:5432"]),
    connectTimeout: 2000,
    lookup: (_name: string) => {
      lookups++;
      return Promise.resolve(["127.0.0.1", "10.9.9.9", "169.254.169.254", "::1"]);
    },
  };
  // A name entry allows what the name resolves to, except a guarded class.
  assert.deepEqual(await resolveTarget({ host: "db.lan", port: 5432 }, options), [
    "127.0.0.1",
    "10.9.9.9",
    "::1",
  ]);
  // Another name resolving to the same addresses: only the IP entry's address is dialled.
  assert.deepEqual(await resolveTarget({ host: "other.lan", port: 5432 }, options), ["127.0.0.1"]);
  assert.equal(lookups, 2, "one lookup per forward");
  await assert.rejects(
    resolveTarget({ host: "other.lan", port: 22 }, options),
    (e) => e instanceof ForwardError && e.code === "policy",
  );
});

Deno.test("a forward whose allowed address refuses never falls through to a refused one", async () => {
  // The name resolves to 127.0.0.1 (allowed, nothing listening) and 127.0.0.2 (not
  // allowed, listening): the connection must fail, not reach 127.0.0.2.
  const listener = Deno.listen({ hostname: "127.0.0.2", port: 0 });
  const { port } = listener.addr;
  let accepted = 0;
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted++;
      conn.close();
    }
  })();
  try {
    const options = {
      allowlist: new Allowlist([`127.0.0.1:${port}`]),
      connectTimeout: 2000,
      lookup: () => Promise.resolve(["127.0.0.1", "127.0.0.2"]),
    };
    const addresses = await resolveTarget({ host: "two.lan", port }, options);
    await assert.rejects(
      dialTcp(addresses, port, options),
      (e) => e instanceof ForwardError && e.code === "connection-refused",
    );
    assert.equal(accepted, 0);
  } finally {
    listener.close();
    await accepting;
  }
});
