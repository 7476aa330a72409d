/**
 * The files `burrow demo` runs from: a CA and a server certificate, the
 * server's domain, agent identity and operator files, and the operator token.
 * Made fresh in a temporary folder, or kept in a folder (`--dir`) and reused
 * on the next run, so a restarted demo (`deno task dev`) trusts the same CA and
 * accepts the same token, and the command lines it printed keep working.
 *
 * @module
 */

import { join } from "node:path";
import { makeCertificates } from "../shared/tls/self_signed.ts";
import { generateToken, hashToken } from "../shared/auth/token.ts";

/** Days a demo certificate is valid; a kept one is remade when less than a day is left. */
const CERT_DAYS = 365;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The secrets a demo run uses, as kept in `demo.json`. */
export interface DemoSecrets {
  /** The `localhost` domain's secret, shared by the server and agent domain files. */
  secret: string;
  /** The agent identity "demo"'s secret. */
  agentSecret: string;
  /** The operator token (its hash is in `operators.d/demo.jsonc`). */
  token: string;
  /** When the certificate expires (ISO 8601). */
  notAfter: string;
}

function isSecrets(value: unknown): value is DemoSecrets {
  const v = value as Partial<DemoSecrets> | null;
  return typeof v?.secret === "string" && typeof v.agentSecret === "string" &&
    typeof v.token === "string" && typeof v.notAfter === "string";
}

/** The secrets kept in `dir`, or null when there are none usable (missing, damaged, expiring). */
async function keptSecrets(dir: string): Promise<DemoSecrets | null> {
  try {
    const kept: unknown = JSON.parse(await Deno.readTextFile(join(dir, "demo.json")));
    for (const pem of ["ca.pem", "cert.pem", "key.pem"]) await Deno.stat(join(dir, pem));
    if (!isSecrets(kept) || !(Date.parse(kept.notAfter) - Date.now() > DAY_MS)) return null;
    return kept;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof SyntaxError) return null;
    throw e;
  }
}

/** New certificates and secrets, written to `dir`. */
async function freshSecrets(dir: string): Promise<DemoSecrets> {
  const certs = await makeCertificates({
    hostnames: ["localhost", "127.0.0.1", "::1"],
    days: CERT_DAYS,
  });
  await Deno.writeTextFile(join(dir, "ca.pem"), certs.caCert);
  await Deno.writeTextFile(join(dir, "cert.pem"), certs.cert);
  await Deno.writeTextFile(join(dir, "key.pem"), certs.key, { mode: 0o600 });
  const secrets: DemoSecrets = {
    secret: crypto.randomUUID(),
    agentSecret: crypto.randomUUID(),
    token: generateToken(),
    notAfter: new Date(Date.now() + CERT_DAYS * DAY_MS).toISOString(),
  };
  await Deno.writeTextFile(join(dir, "demo.json"), JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

/**
 * Fills `dir` with the demo's files and resolves to its secrets. With `keep`,
 * the certificates and secrets already in `dir` are reused when present (and
 * made there when not); without, they are always made anew.
 *
 * @example
 * ```ts
 * const dir = await Deno.makeTempDir();
 * const secrets = await prepareDemoFiles(dir, { keep: false });
 * ```
 */
export async function prepareDemoFiles(
  dir: string,
  options: { keep: boolean },
): Promise<DemoSecrets> {
  const secrets = (options.keep ? await keptSecrets(dir) : null) ?? await freshSecrets(dir);
  for (const sub of ["server.d", "agents.d", "operators.d"]) {
    await Deno.mkdir(join(dir, sub), { recursive: true });
  }
  await Deno.writeTextFile(
    join(dir, "server.d", "localhost.jsonc"),
    JSON.stringify({ active: true, secret: secrets.secret, concurrency: 200 }),
  );
  // The support-team half: the agent's identity, an operator token allowed everything.
  await Deno.writeTextFile(
    join(dir, "agents.d", "demo.jsonc"),
    JSON.stringify({ secret: secrets.agentSecret, groups: ["demo"] }),
  );
  await Deno.writeTextFile(
    join(dir, "operators.d", "demo.jsonc"),
    JSON.stringify({
      token: hashToken(secrets.token),
      agents: ["*"],
      kinds: ["forward", "udp", "socks", "admin"],
    }),
  );
  await Deno.writeTextFile(join(dir, "operator.token"), `${secrets.token}\n`, { mode: 0o600 });
  return secrets;
}

/**
 * The folder a demo keeps its files in: made when missing, owner-only. It holds
 * a private key and a token, so a folder someone else owns (in a shared temp
 * folder) is refused rather than trusted.
 *
 * @throws {Error} when `dir` is not a folder, or (off Windows) not this user's.
 */
export async function keptDemoDir(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await Deno.lstat(dir);
  if (!stat.isDirectory) throw new Error(`${dir} is not a folder`);
  if (Deno.build.os !== "windows") {
    if (stat.uid !== Deno.uid()) throw new Error(`${dir} belongs to another user`);
    await Deno.chmod(dir, 0o700);
  }
  return dir;
}
