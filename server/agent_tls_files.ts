/**
 * The files of the agent-certificate listener (`agentCertificates`): the CA
 * that signs agent certificates, and the server's own certificate chain and
 * key, read and checked before `node:tls` gets them. Deno's
 * `tls.createSecureContext()` and `server.setSecureContext()` accept any
 * text without a word (measured on Deno 2.9.6: garbage, a truncated PEM, a
 * key of another certificate), and the listener then fails every handshake;
 * so each file is parsed here, and a bad one is named in the error.
 *
 * @module
 */

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import type { CertificatePair } from "./config_types.ts";

/** The PEM text of the three files, checked. */
export interface AgentTlsPem {
  /** CA certificate(s) agent certificates must be signed by. */
  ca: string;
  /** The server's certificate chain, leaf first. */
  cert: string;
  /** The server's private key, matching the leaf. */
  key: string;
}

/** A file of `agentCertificates` that cannot be read or used; the message names it. */
export class AgentTlsFileError extends Error {
  override readonly name = "AgentTlsFileError";
  /** The file at fault. */
  readonly file: string;

  /** An error about `file`. */
  constructor(file: string, message: string) {
    super(message);
    this.file = file;
  }
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/;

/**
 * Reads `files.ca`, `files.cert` and `files.key` and checks them: every
 * certificate block parses, the CA file and the chain hold at least one,
 * the key parses and belongs to the chain's first certificate.
 *
 * @throws {AgentTlsFileError} naming the first file that cannot be read or used.
 * @example
 * ```ts ignore
 * try {
 *   const pem = await readAgentTlsFiles({ ca: "agents-ca.pem", cert: "cert.pem", key: "key.pem" });
 *   server.setSecureContext(pem);
 * } catch (e) {
 *   log.error("{error}", { error: (e as Error).message }); // "key.pem: the key does not match …"
 * }
 * ```
 */
export async function readAgentTlsFiles(
  files: CertificatePair & { ca: string },
): Promise<AgentTlsPem> {
  const [ca, cert, key] = await Promise.all([
    readText(files.ca),
    readText(files.cert),
    readText(files.key),
  ]);
  certificates(files.ca, ca, "CA certificate");
  const [leaf] = certificates(files.cert, cert, "certificate");
  const privateKey = parseKey(files.key, key);
  let matches: boolean;
  try {
    matches = leaf!.checkPrivateKey(privateKey);
  } catch {
    matches = false; // a key of another algorithm than the certificate's
  }
  if (!matches) {
    throw new AgentTlsFileError(
      files.key,
      `${files.key}: the private key does not match the certificate in ${files.cert}`,
    );
  }
  return { ca, cert, key };
}

async function readText(file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (e) {
    throw new AgentTlsFileError(file, `${file}: cannot read: ${(e as Error).message}`);
  }
}

/** Every certificate block of `text`, parsed; at least one. */
function certificates(file: string, text: string, what: string): X509Certificate[] {
  const blocks = text.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new AgentTlsFileError(file, `${file}: no PEM ${what} in file`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw new AgentTlsFileError(
        file,
        `${file}: ${what} ${i + 1} of ${blocks.length} cannot be parsed (${(e as Error).message})`,
      );
    }
  });
}

/** The private key of `text` (its first PEM key block). */
function parseKey(file: string, text: string): KeyObject {
  const block = KEY_BLOCK.exec(text)?.[0];
  if (block === undefined) throw new AgentTlsFileError(file, `${file}: no PEM private key in file`);
  try {
    return createPrivateKey(block);
  } catch (e) {
    throw new AgentTlsFileError(
      file,
      `${file}: the private key cannot be parsed (${(e as Error).message})`,
    );
  }
}
