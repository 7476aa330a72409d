import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import {
  checkPlatform,
  DEFAULT_PROBES,
  platform,
  platformNotes,
  type PlatformStatus,
  probePlatform,
  resetPlatform,
  TESTED_DENO,
} from "./check.ts";
import { shutdownConnection } from "./shutdown.ts";

const ALL: PlatformStatus = {
  deno: TESTED_DENO,
  serveLoop: true,
  sniResolver: true,
  rawHeaders: true,
  libc: true,
  tcpTable: true,
};

/** A logger that keeps its warnings. */
function recorder(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log = { warn: (message: string) => warnings.push(message) } as unknown as Logger;
  return { log, warnings };
}

Deno.test("platformNotes says nothing on the tested Deno with every internal there", () => {
  assert.deepEqual(platformNotes(ALL, "server"), []);
  assert.deepEqual(platformNotes(ALL, "agent"), []);
});

Deno.test("platformNotes names the fallback of each missing internal the role uses", () => {
  const none = { ...ALL, serveLoop: false, sniResolver: false, rawHeaders: false };
  assert.deepEqual(platformNotes(none, "server"), [
    "Deno internal serve loop missing: HTTPS uses Deno.serve, one certificate per listener (no SNI)",
    "SNI resolver symbol not supported: using one certificate per listener",
    "Deno.serve raw headers missing: using req.headers",
  ]);
  assert.deepEqual(platformNotes(none, "agent"), [], "the agent uses none of them");
  const noLibc = { ...ALL, libc: false, deno: "3.0.0" };
  assert.deepEqual(platformNotes(noLibc, "agent"), [
    `Deno 3.0.0 is not the tested ${TESTED_DENO}: internals were probed`,
    "libc through FFI unavailable (Linux with --allow-ffi): a cancelled wss dial waits for the " +
    "server's TLS answer",
  ]);
  assert.match(platformNotes(noLibc, "server")[1]!, /no connection janitor/);
});

Deno.test("checkPlatform logs its fallbacks once and platform() keeps what it found", () => {
  const { log, warnings } = recorder();
  try {
    resetPlatform();
    const probes = { ...DEFAULT_PROBES, rawHeaders: () => false };
    const first = checkPlatform({ role: "server", log, probes });
    assert.equal(first.rawHeaders, false);
    assert.ok(warnings.includes("Deno.serve raw headers missing: using req.headers"));
    const logged = warnings.length;
    assert.equal(checkPlatform({ role: "server", log }), first, "a second check probes nothing");
    assert.equal(warnings.length, logged, "and logs nothing");
    assert.equal(platform(), first);
  } finally {
    resetPlatform();
  }
});

Deno.test({
  name: "this Deno on Linux has every internal Burrow uses",
  ignore: Deno.build.os !== "linux",
  fn: () => {
    assert.deepEqual(probePlatform(), { ...ALL, deno: Deno.version.deno });
  },
});

Deno.test({
  name: "without libc or the TCP table shutdownConnection() leaves the connection to close()",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    using _server = await listener.accept();
    try {
      for (const missing of ["libc", "tcpTable"] as const) {
        checkPlatform({ role: "agent", probes: { [missing]: () => false } });
        assert.equal(shutdownConnection(client.localAddr, client.remoteAddr), false, missing);
      }
      resetPlatform();
      assert.equal(shutdownConnection(client.localAddr, client.remoteAddr), true);
    } finally {
      resetPlatform();
    }
  },
});
