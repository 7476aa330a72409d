/**
 * The agent-certificate listener's files (`agentCertificates`: `ca`,
 * `cert`, `key`) changed while the server runs: real mTLS handshakes on
 * loopback before and after. New files apply to new connections without a
 * restart (watched, and on SIGHUP's `reloadConfig`); connected agents stay;
 * a bad file keeps the previous ones, with one error naming it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { AgentTlsFileError } from "../../server/agent_tls_files.ts";
import { parseServerConfig } from "../../server/config.ts";
import { startServer } from "../../server/server.ts";
import { makeCertificates } from "../../shared/tls/self_signed.ts";
import { captureWarnings } from "../helpers/log_capture.ts";
import { type ClientCa, makeClientCa, makeClientCert } from "../helpers/client_certs.ts";
import { until, World } from "./world.ts";

/**
 * The world's HTTPS listener with a certificate made at start, not from files: a reload
 * (`reloadConfig`) then re-opens no HTTPS listener, which on Deno 2.9.6 leaves one
 * `op_tls_cert_resolver_poll` pending (see "certificate files replaced on disk" in
 * `lifecycle_test.ts`); these tests are about the agent-certificate listener alone.
 */
const LISTENERS = { listen: [{ address: "127.0.0.1:0", selfSigned: true }] };

/** The listener's files, in a folder of their own, and what tests swap in. */
interface Files {
  dir: string;
  /** The listener's CA file (agent certificates), certificate and key. */
  ca: string;
  cert: string;
  key: string;
  /** The CA of the listener's first certificate, for agents to trust (`caFile`). */
  serverCa: string;
}

/** Writes the listener's files: agent CA `agents`, and a fresh server certificate. */
async function listenerFiles(agents: ClientCa): Promise<Files> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-mtls-files-" });
  const server = await makeCertificates({ hostnames: ["127.0.0.1"] });
  const files = {
    dir,
    ca: join(dir, "agents-ca.pem"),
    cert: join(dir, "cert.pem"),
    key: join(dir, "key.pem"),
    serverCa: join(dir, "server-ca.pem"),
  };
  await Deno.writeTextFile(files.ca, await Deno.readTextFile(agents.cert));
  await Deno.writeTextFile(files.cert, server.cert);
  await Deno.writeTextFile(files.key, server.key);
  await Deno.writeTextFile(files.serverCa, server.caCert);
  return files;
}

/** Replaces `file` at once (write aside, then rename), as deployment tools do. */
async function replace(file: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${file}.new`, text);
  await Deno.rename(`${file}.new`, file);
}

/** Starts an agent with certificate `cert` (CN = `name`) trusting the server CA in `trust`. */
function certAgent(
  world: World,
  name: string,
  cert: { cert: string; key: string },
  trust: string,
  wait = true,
) {
  const remote = `127.0.0.1:${world.server.agentTlsAddr!.port}`;
  return world.agent({
    identity: { name, certFile: cert.cert, keyFile: cert.key, remote, caFile: trust },
  }, wait);
}

Deno.test("mTLS: a new CA, certificate and key on disk apply to new handshakes without a restart; connected agents stay", async () => {
  const oldCa = await makeClientCa("Old Agents CA");
  const newCa = await makeClientCa("New Agents CA");
  const files = await listenerFiles(oldCa);
  const world = await World.create({
    ...LISTENERS,
    agentCertificates: { listen: "127.0.0.1:0", ca: files.ca, cert: files.cert, key: files.key },
  });
  try {
    for (const name of ["db1", "db2", "db3"]) await world.agentFile(name, { secret: "unused" });
    await certAgent(world, "db1", await makeClientCert(oldCa, "db1"), files.serverCa);
    const connected = world.server.directory.get("db1")!;
    // What a reload rejects besides (the world's main file is not on disk: publish fails).
    const baseline = (await world.server.reloadConfig()).rejected;

    // New server certificate (from another CA) and a new agent CA, each file replaced at once.
    const renewed = await makeCertificates({ hostnames: ["127.0.0.1"] });
    const renewedCa = join(files.dir, "renewed-server-ca.pem");
    await Deno.writeTextFile(renewedCa, renewed.caCert);
    await replace(files.key, renewed.key);
    await replace(files.cert, renewed.cert);
    await replace(files.ca, await Deno.readTextFile(newCa.cert));

    // Watched: an agent of the new CA, trusting only the new server certificate, gets in.
    const db2 = await certAgent(world, "db2", await makeClientCert(newCa, "db2"), renewedCa, false);
    await until("db2 identified through the new files", () => db2.identity()?.identified === true);
    // The old CA's certificates no longer pass a new handshake.
    const db3 = await certAgent(world, "db3", await makeClientCert(oldCa, "db3"), renewedCa, false);
    await until("db3's handshake refused", () => db3.identity()?.lastError != null);
    // The server closed it (it verified the new server certificate, so that is not the cause).
    assert.doesNotMatch(db3.identity()!.lastError!, /invalid peer certificate/);
    assert.equal(world.server.directory.get("db3"), undefined);
    // The agent connected with the old files is still there, on the same session.
    const still = world.server.directory.get("db1");
    assert.equal(still?.session, connected.session);
    assert.equal(connected.session.isClosed, false);
    // SIGHUP re-reads them: nothing new.
    const reload = await world.server.reloadConfig();
    assert.equal(reload.rejected, baseline);
    assert.ok(!reload.changed.includes("agentCertificates files"), reload.changed.join(", "));
  } finally {
    await world.close();
    for (const dir of [files.dir, oldCa.dir, newCa.dir]) {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("mTLS: an unparsable CA file or a key that does not match keeps the previous files, with one error naming the file", async () => {
  const ca = await makeClientCa();
  const files = await listenerFiles(ca);
  const world = await World.create({
    ...LISTENERS,
    agentCertificates: { listen: "127.0.0.1:0", ca: files.ca, cert: files.cert, key: files.key },
  });
  const log = await captureWarnings();
  const errorsAbout = (file: string) =>
    log.messages().filter((m) => m.includes("not reloaded") && m.includes(file));
  try {
    for (const name of ["db1", "db2", "db3"]) await world.agentFile(name, { secret: "unused" });
    await certAgent(world, "db1", await makeClientCert(ca, "db1"), files.serverCa);
    const connected = world.server.directory.get("db1")!;
    const goodCa = await Deno.readTextFile(files.ca);
    // What a reload rejects besides (the world's main file is not on disk: publish fails).
    const baseline = (await world.server.reloadConfig()).rejected;

    await replace(files.ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    await until("the watcher's error", () => errorsAbout(files.ca).length > 0);
    // SIGHUP: rejected, and not a second line for the same bad file.
    const reload = await world.server.reloadConfig();
    assert.equal(reload.rejected, baseline + 1);
    const [error, ...more] = errorsAbout(files.ca);
    assert.deepEqual(more, []);
    assert.ok(
      error!.startsWith(
        "Agent certificate files not reloaded, the previous ones stay in use: " +
          `${files.ca}: CA certificate 1 of 1 cannot be parsed (`,
      ),
      error,
    );
    // New handshakes still use the previous CA.
    await certAgent(world, "db2", await makeClientCert(ca, "db2"), files.serverCa);

    // Back to the good CA; then a key of another certificate.
    await replace(files.ca, goodCa);
    assert.equal((await world.server.reloadConfig()).rejected, baseline);
    const other = await makeCertificates({ hostnames: ["127.0.0.1"] });
    await replace(files.key, other.key);
    await until("the key's error", () => errorsAbout(files.key).length > 0);
    assert.match(errorsAbout(files.key)[0]!, /the private key does not match the certificate in /);
    assert.equal((await world.server.reloadConfig()).rejected, baseline + 1);
    assert.equal(errorsAbout(files.key).length, 1);
    // The previous certificate and key still serve: an agent trusting them gets in.
    await certAgent(world, "db3", await makeClientCert(ca, "db3"), files.serverCa);
    assert.equal(world.server.directory.get("db1")?.session, connected.session);
    assert.equal(connected.session.isClosed, false);
  } finally {
    await world.close();
    await log.stop();
    for (const dir of [files.dir, ca.dir]) await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mTLS: a key that does not match its certificate stops the server's start, naming the file", async () => {
  const ca = await makeClientCa();
  const files = await listenerFiles(ca);
  const dir = await Deno.makeTempDir({ prefix: "burrow-mtls-start-" });
  try {
    await replace(files.key, (await makeCertificates({ hostnames: ["127.0.0.1"] })).key);
    await Deno.mkdir(join(dir, "server.d"));
    const text = JSON.stringify({
      mode: "server",
      ...LISTENERS,
      agentCertificates: { listen: "127.0.0.1:0", ca: files.ca, cert: files.cert, key: files.key },
    });
    const config = parseServerConfig(join(dir, "server.jsonc"), text);
    const logging = { system: getLogger(["burrow-test", "server"]), access: () => {} };
    await assert.rejects(startServer(config, logging), (e: unknown) => {
      assert.ok(e instanceof AgentTlsFileError);
      assert.equal(
        e.message,
        `${files.key}: the private key does not match the certificate in ${files.cert}`,
      );
      return true;
    });
  } finally {
    for (const d of [dir, files.dir, ca.dir]) await Deno.remove(d, { recursive: true });
  }
});
