/**
 * The packaged systemd units and configuration files: `systemd-analyze
 * verify` on both units (where the tool exists: CI's .ci/run installs it),
 * the sandboxing each unit promises, and `burrow check` on the files
 * installed in /etc/burrow (valid as shipped, and once the samples are
 * enabled and a certificate is in place, with `--strict`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { has, PACKAGING, run, standIn } from "./packaging_helpers.ts";
import { MAIN } from "../helpers/burrow.ts";
import { makeCertificates } from "../../shared/tls/self_signed.ts";

const UNITS = ["burrow-server", "burrow-agent"];
const ETC = join(PACKAGING, "linux/etc/burrow");

/** The unit's `Key=value` lines, in order. */
async function directives(unit: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(PACKAGING, "linux", `${unit}.service`));
  return text.split("\n").filter((l) => /^[A-Za-z]+=/.test(l));
}

Deno.test({
  name: "systemd-analyze verify accepts both units",
  // Ignored only where systemd is not installed.
  ignore: !(await has("systemd-analyze")),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "burrow-units-" });
    try {
      // verify wants ExecStart's program to exist: a stand-in at a path of the test's own.
      const binary = await standIn(dir);
      for (const unit of UNITS) {
        const text = await Deno.readTextFile(join(PACKAGING, "linux", `${unit}.service`));
        const path = join(dir, `${unit}.service`);
        // Quoted: a temporary folder's path may hold spaces.
        await Deno.writeTextFile(path, text.replaceAll("/usr/bin/burrow ", `"${binary}" `));
        // 0644 as the package installs it, whatever the umask: under umask 000 the copy
        // was world-writable and verify warned about it.
        await Deno.chmod(path, 0o644);
        const verify = await run("systemd-analyze", ["verify", path]);
        assert.equal(verify.code, 0, `${unit}: ${verify.stderr}`);
        assert.equal(verify.stderr, "", `${unit}: ${verify.stderr}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("both units run as burrow, sandboxed, restart on failure and reload with SIGHUP; only the server may bind 443", async () => {
  const common = [
    "Type=exec",
    "User=burrow",
    "Group=burrow",
    "ExecReload=/bin/kill -HUP $MAINPID",
    "Restart=on-failure",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "WantedBy=multi-user.target",
  ];
  const server = await directives("burrow-server");
  const agent = await directives("burrow-agent");
  for (const line of common) {
    assert.ok(server.includes(line), `server: ${line}`);
    assert.ok(agent.includes(line), `agent: ${line}`);
  }
  assert.ok(server.includes("ExecStart=/usr/bin/burrow server --config /etc/burrow/server.jsonc"));
  assert.ok(server.includes("ReadWritePaths=/var/lib/burrow"));
  assert.ok(server.includes("CapabilityBoundingSet=CAP_NET_BIND_SERVICE"));
  assert.ok(server.includes("AmbientCapabilities=CAP_NET_BIND_SERVICE"));
  assert.ok(agent.includes("ExecStart=/usr/bin/burrow agent --config /etc/burrow/agent.jsonc"));
  assert.ok(agent.includes("CapabilityBoundingSet="));
  assert.ok(!agent.some((l) => l.startsWith("AmbientCapabilities=")));
  assert.ok(!agent.some((l) => l.startsWith("ReadWritePaths=")));
  // V8 writes machine code at run time: this one would kill the process.
  assert.ok(![...server, ...agent].some((l) => l.startsWith("MemoryDenyWriteExecute=")));
});

Deno.test("burrow check accepts /etc/burrow as installed, and with the samples enabled and a certificate, --strict", async () => {
  const shipped = await run(Deno.execPath(), [
    "run",
    "-A",
    MAIN,
    "check",
    join(ETC, "server.jsonc"),
    join(ETC, "agent.jsonc"),
  ]);
  assert.equal(shipped.code, 0, shipped.stderr);
  assert.match(shipped.stdout, /ok: .*server\.jsonc/);
  const server = await Deno.readTextFile(join(ETC, "server.jsonc"));
  assert.match(server, /"dataDir": "\/var\/lib\/burrow"/);

  const dir = await Deno.makeTempDir({ prefix: "burrow-etc-" });
  try {
    const copy = join(dir, "burrow");
    assert.equal((await run("cp", ["-R", ETC, copy])).code, 0);
    for (const role of ["server", "agent"]) {
      await Deno.rename(
        join(copy, `${role}.d`, "_example.com.jsonc"),
        join(copy, `${role}.d`, "app.example.com.jsonc"),
      );
    }
    const certs = await makeCertificates({ hostnames: ["tunnel.example.com"] });
    await Deno.mkdir(join(copy, "tls"));
    await Deno.writeTextFile(join(copy, "tls", "cert.pem"), certs.cert);
    await Deno.writeTextFile(join(copy, "tls", "key.pem"), certs.key);
    const enabled = await run(Deno.execPath(), [
      "run",
      "-A",
      MAIN,
      "check",
      "--strict",
      join(copy, "server.jsonc"),
      join(copy, "agent.jsonc"),
    ]);
    assert.equal(enabled.code, 0, enabled.stderr);
    assert.match(enabled.stdout, /app\.example\.com/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
