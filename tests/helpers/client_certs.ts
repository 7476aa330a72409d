/**
 * Client certificates for mTLS tests, made with `openssl`: a CA, and leaf
 * certificates from it with `extendedKeyUsage=clientAuth` and a given CN.
 *
 * @module
 */

import { join } from "node:path";

/** A CA made by {@linkcode makeClientCa}. */
export interface ClientCa {
  /** Its folder (temporary: remove it when done). */
  dir: string;
  /** Path of its certificate (PEM). */
  cert: string;
  /** Path of its key (PEM). */
  key: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Makes a CA (P-256, one day) in a new temporary folder. */
export async function makeClientCa(name = "Test Agents CA"): Promise<ClientCa> {
  const dir = await Deno.makeTempDir({ prefix: "burrow-mtls-" });
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-subj",
    `/CN=${name}`,
    "-days",
    "1",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ], dir); // deno-fmt-ignore
  return { dir, cert: join(dir, "ca.pem"), key: join(dir, "ca.key") };
}

/** Makes a client certificate `CN=<cn>` signed by `ca`; resolves with its cert and key paths. */
export async function makeClientCert(
  ca: ClientCa,
  cn: string,
): Promise<{ cert: string; key: string }> {
  const base = `${cn}-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(
    join(ca.dir, `${base}.ext`),
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
  );
  await openssl([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${base}.key`,
    "-out",
    `${base}.csr`,
    "-subj",
    `/CN=${cn}`,
  ], ca.dir); // deno-fmt-ignore
  await openssl([
    "x509", "-req", "-in", `${base}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key",
    "-CAcreateserial", "-out", `${base}.pem`, "-days", "1", "-extfile", `${base}.ext`,
  ], ca.dir); // deno-fmt-ignore
  return { cert: join(ca.dir, `${base}.pem`), key: join(ca.dir, `${base}.key`) };
}
