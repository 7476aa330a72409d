import assert from "node:assert/strict";
import { join } from "node:path";
import type { Logger } from "@logtape/logtape";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import type { AgentTlsPem } from "./agent_tls_files.ts";
import { AgentTlsReload } from "./agent_tls_reload.ts";

Deno.test("AgentTlsReload applies changed files, skips unchanged ones, and keeps the previous ones on a bad file, said once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "burrow-agent-tls-" });
  const files = { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
  const write = async (pem: AgentTlsPem) => {
    await Deno.writeTextFile(files.ca, pem.ca);
    await Deno.writeTextFile(files.cert, pem.cert);
    await Deno.writeTextFile(files.key, pem.key);
  };
  const a = await makeCertificates({ hostnames: ["127.0.0.1"] });
  const b = await makeCertificates({ hostnames: ["127.0.0.1"] });
  const first = { ca: a.caCert, cert: a.cert, key: a.key };
  const second = { ca: b.caCert, cert: b.cert, key: b.key };
  const applied: AgentTlsPem[] = [];
  const errors: string[] = [];
  const log = {
    info: () => {},
    error: (_: string, p: { error: string }) => void errors.push(p.error),
  } as unknown as Logger;
  const follow = new AgentTlsReload({ files, initial: first, apply: (p) => applied.push(p), log });
  try {
    await write(first);
    assert.equal(await follow.reload(), "unchanged");
    assert.deepEqual(applied, []);

    await write(second);
    assert.equal(await follow.reload(), "changed");
    assert.deepEqual(applied, [second]);

    // A key of another certificate: nothing applied, one error naming the key file.
    await Deno.writeTextFile(files.key, a.key);
    assert.equal(await follow.reload(), "failed");
    assert.equal(await follow.reload(), "failed");
    assert.deepEqual(applied, [second], "the previous files stay in use");
    assert.equal(errors.length, 1, "the same bad file is reported once");
    assert.match(errors[0]!, /key\.pem: the private key does not match the certificate in /);
    // Another bad contents: reported.
    await Deno.writeTextFile(files.ca, "garbage");
    assert.equal(await follow.reload(), "failed");
    assert.equal(errors.length, 2);
    assert.match(errors[1]!, /ca\.pem: no PEM CA certificate in file/);

    // Fixed: the next reload applies it.
    await write(first);
    assert.equal(await follow.reload(), "changed");
    assert.deepEqual(applied, [second, first]);
  } finally {
    await follow.close();
    await Deno.remove(dir, { recursive: true });
  }
});
