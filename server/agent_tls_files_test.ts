import assert from "node:assert/strict";
import { join } from "node:path";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { AgentTlsFileError, readAgentTlsFiles } from "./agent_tls_files.ts";

/** A folder with a valid set (`ca.pem`, `cert.pem`, `key.pem`) and a key of another pair. */
async function folder() {
  const dir = await Deno.makeTempDir({ prefix: "burrow-agent-tls-" });
  const a = await makeCertificates({ hostnames: ["127.0.0.1"] });
  const b = await makeCertificates({ hostnames: ["127.0.0.1"] });
  const files = { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
  // Two CAs in the CA file; the chain's leaf first, then its CA.
  await Deno.writeTextFile(files.ca, a.caCert + b.caCert);
  await Deno.writeTextFile(files.cert, a.cert + a.caCert);
  await Deno.writeTextFile(files.key, a.key);
  return { dir, files, otherKey: b.key };
}

Deno.test("readAgentTlsFiles() returns the PEM of a valid CA file, chain and matching key", async () => {
  const { dir, files } = await folder();
  try {
    const pem = await readAgentTlsFiles(files);
    assert.equal(pem.ca, await Deno.readTextFile(files.ca));
    assert.equal(pem.cert, await Deno.readTextFile(files.cert));
    assert.equal(pem.key, await Deno.readTextFile(files.key));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readAgentTlsFiles() names the file that cannot be read or used", async () => {
  const { dir, files, otherKey } = await folder();
  const truncated = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  // file, new contents (null: removed), expected message
  const cases: [string, string | null, RegExp][] = [
    [files.ca, null, /^.*\/ca\.pem: cannot read: /],
    [files.ca, "not a certificate", /\/ca\.pem: no PEM CA certificate in file$/],
    [files.ca, truncated, /\/ca\.pem: CA certificate 1 of 1 cannot be parsed \(/],
    [files.cert, "", /\/cert\.pem: no PEM certificate in file$/],
    [files.key, "garbage", /\/key\.pem: no PEM private key in file$/],
    [
      files.key,
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
      /\/key\.pem: the private key cannot be parsed \(/,
    ],
    [
      files.key,
      otherKey,
      /\/key\.pem: the private key does not match the certificate in .*\/cert\.pem$/,
    ],
  ];
  try {
    for (const [file, text, message] of cases) {
      const saved = await Deno.readTextFile(file);
      if (text === null) await Deno.remove(file);
      else await Deno.writeTextFile(file, text);
      await assert.rejects(readAgentTlsFiles(files), (e: unknown) => {
        assert.ok(e instanceof AgentTlsFileError);
        assert.equal(e.file, file);
        assert.match(e.message, message);
        return true;
      });
      await Deno.writeTextFile(file, saved);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
