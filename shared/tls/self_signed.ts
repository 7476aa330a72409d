/**
 * Throwaway TLS certificates for loopback tests and the zero-config demo: a
 * small certificate authority and a server certificate signed by it.
 *
 * rustls (behind `Deno.listenTls`, `Deno.serve` and every Deno TLS client)
 * rejects a self-signed certificate marked `CA:TRUE` used as a server
 * certificate (`CaUsedAsEndEntity`), so a single self-signed certificate is
 * not enough: the client trusts the CA and the server presents the leaf.
 *
 * @module
 */

import type * as X509 from "@peculiar/x509";

/** Options of {@linkcode makeCertificates}. */
export interface MakeCertificatesOptions {
  /**
   * Names the server certificate is valid for. DNS names (`localhost`,
   * `tunnel.example.com`) become DNS subjectAltNames; IPv4 and IPv6 addresses
   * (`127.0.0.1`, `::1`) become IP subjectAltNames. At least one.
   */
  hostnames: string[];
  /** Days both certificates stay valid. Default 365. */
  days?: number;
}

/** PEM-encoded output of {@linkcode makeCertificates}. */
export interface Certificates {
  /** The CA certificate, for clients to trust (`caCerts`, `--cert`). */
  caCert: string;
  /** The server certificate, signed by the CA (`cert` of `Deno.listenTls` / `Deno.serve`). */
  cert: string;
  /** The server certificate's private key, PKCS#8 (`-----BEGIN PRIVATE KEY-----`). */
  key: string;
}

/** Key algorithm of both certificates. */
const KEY_ALGORITHM: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
/** Signature algorithm of both certificates. */
const SIGNING_ALGORITHM: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
/** Certificates start this long before now, so a peer with a slow clock accepts them. */
const BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Creates a CA certificate and a server certificate signed by it, with
 * fresh ECDSA P-256 keys from Web Crypto. Nothing touches the disk; the CA's
 * private key is not extractable and is dropped when this returns, so the CA
 * can sign nothing else.
 *
 * @throws {RangeError} when `hostnames` is empty or `days` is not a positive number.
 * @example
 * ```ts
 * const { caCert, cert, key } = await makeCertificates({ hostnames: ["localhost", "127.0.0.1"] });
 * const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
 * const conn = await Deno.connectTls({
 *   hostname: "localhost",
 *   port: listener.addr.port,
 *   caCerts: [caCert],
 * });
 * ```
 */
export async function makeCertificates(options: MakeCertificatesOptions): Promise<Certificates> {
  const { hostnames, days = 365 } = options;
  if (hostnames.length === 0) throw new RangeError("Cannot make a certificate for no hostnames");
  if (!(days > 0)) throw new RangeError(`Cannot make a certificate valid for ${days} days`);
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  const notAfter = new Date(notBefore.getTime() + BACKDATE_MS + days * DAY_MS);

  const x509 = await loadX509();
  const caKeys = await crypto.subtle.generateKey(KEY_ALGORITHM, false, ["sign", "verify"]);
  const caName = [{ CN: ["Burrow local CA"], O: ["Burrow"] }];
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: caName,
    keys: caKeys,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
    ],
  }, crypto);

  const leafKeys = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create({
    subject: [{ CN: [hostnames[0]!], O: ["Burrow"] }],
    issuer: ca.subjectName,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(hostnames.map(generalName)),
      await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey, false, crypto),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey, false, crypto),
    ],
  }, crypto);

  const pkcs8 = await crypto.subtle.exportKey("pkcs8", leafKeys.privateKey);
  return {
    caCert: ca.toString("pem"),
    cert: leaf.toString("pem"),
    key: x509.PemConverter.encode(pkcs8, x509.PemConverter.PrivateKeyTag),
  };
}

/**
 * Loads @peculiar/x509 on first use. It and what it pulls in (tsyringe,
 * reflect-metadata, asn1js, and the Node compatibility layer they start) add
 * about 20 MB to a process, so only a process that makes a certificate pays.
 */
async function loadX509(): Promise<typeof X509> {
  // @peculiar/x509 resolves its algorithms through tsyringe, which needs the
  // Reflect metadata API; it must be loaded before @peculiar/x509 is evaluated.
  await import("reflect-metadata");
  return await import("@peculiar/x509");
}

/** An IP subjectAltName for an IPv4 or IPv6 address, a DNS one for anything else. */
function generalName(hostname: string): X509.JsonGeneralName {
  return isIpAddress(hostname) ? { type: "ip", value: hostname } : { type: "dns", value: hostname };
}

function isIpAddress(hostname: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname.includes(":");
}
