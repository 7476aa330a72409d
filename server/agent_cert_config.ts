/**
 * The server main file's `agentCertificates` key: an optional listener
 * where agents identify by a client certificate signed by `ca` (CN = agent
 * name), carrying the mux directly over TLS (`server/agent_tls.ts`).
 *
 * ```jsonc
 * "agentCertificates": {
 *   "listen": "0.0.0.0:8444",   // required
 *   "ca": "agents-ca.pem",      // required: PEM of the CA(s) that sign agent certificates
 *   "cert": "tls/cert.pem",     // default: the first listener's cert and key files
 *   "key": "tls/key.pem",
 * }
 * ```
 *
 * @module
 */

import type { Field, LoadOptions } from "../shared/config/fields.ts";
import { ObjectReader } from "../shared/config/fields.ts";
import type { AgentCertificatesConfig, CertificatePair, ListenConfig } from "./config_types.ts";
import { formatAddress } from "../shared/net/address.ts";
import { listenOverlaps } from "../shared/net/listen_overlap.ts";

export type { AgentCertificatesConfig } from "./config_types.ts";

/**
 * Parses `agentCertificates` (null when absent). `cert` and `key` go
 * together; without them the first listener's `cert`/`key` files serve.
 *
 * @throws {ConfigError} at the first mistake.
 * @example
 * ```ts
 * const certs = parseAgentCertificates(r.field("agentCertificates"), listen, baseDir, options);
 * ```
 */
export function parseAgentCertificates(
  field: Field | null,
  listen: readonly ListenConfig[],
  baseDir: string,
  options: LoadOptions,
): AgentCertificatesConfig | null {
  if (field === null) return null;
  const r = ObjectReader.of(field);
  const { hostname, port } = r.required("listen").hostPort({ allowZero: true });
  const taken = listen.find((l) => listenOverlaps({ hostname, port }, l));
  if (taken !== undefined) {
    throw r.error(
      "listen",
      `${formatAddress({ hostname, port })} collides with the listener ${formatAddress(taken)}`,
    );
  }
  const ca = r.required("ca").filePath(baseDir, options);
  const certField = r.field("cert");
  const keyField = r.field("key");
  let pair: CertificatePair;
  if (certField !== null || keyField !== null) {
    if (certField === null) throw r.error("cert", 'is required with "key"', "missing");
    if (keyField === null) throw r.error("key", 'is required with "cert"', "missing");
    pair = { cert: certField.filePath(baseDir, options), key: keyField.filePath(baseDir, options) };
  } else {
    const first = listen[0]?.tls;
    if (
      first === null || first === undefined || typeof first === "string" || Array.isArray(first)
    ) {
      throw r.error(
        "cert",
        'is required: the first listener has no "cert" and "key" files to share',
        "missing",
      );
    }
    pair = { cert: first.cert, key: first.key };
  }
  r.finish();
  return { hostname, port, ca, ...pair };
}
