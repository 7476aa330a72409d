/**
 * The server's certificates: SNI rules mapping server names to certificate
 * pairs, loaded from files, reloaded when the files change.
 *
 * @module
 */

import type { CertificatePair, SniRule } from "./config_types.ts";

/** PEM text of a certificate chain and its key. */
export interface PemPair {
  /** Certificate chain, PEM. */
  cert: string;
  /** Private key, PEM. */
  key: string;
}

interface Loaded {
  rule: SniRule;
  pem: PemPair;
}

/**
 * Holds certificate pairs in SNI rule order. `resolve(name)` picks the first
 * rule that matches: an exact name, `*.example.com` (exactly one more
 * label), `*` (any name, and connections without SNI), or a regular
 * expression (any name it finds a match in; never a connection without SNI).
 */
export class CertificateStore {
  #loaded: Loaded[] = [];
  readonly #rules: SniRule[];

  /** A store for `rules` (first match wins); call `load()` before use. */
  constructor(rules: SniRule[]) {
    this.#rules = rules;
  }

  /** A store serving one pair for every name. */
  static single(pair: CertificatePair): CertificateStore {
    return new CertificateStore([{ pattern: "*", ...pair }]);
  }

  /** A store serving PEM text already in memory (self-signed certificates). */
  static fromPem(pem: PemPair): CertificateStore {
    const store = new CertificateStore([]);
    store.#loaded = [{ rule: { pattern: "*", cert: "", key: "" }, pem }];
    return store;
  }

  /** Files this store reads (to watch them). */
  get files(): string[] {
    return this.#rules.flatMap((r) => [r.cert, r.key]);
  }

  /**
   * Reads every pair. On failure the previous pairs stay in use.
   *
   * @throws {Error} naming the file that could not be read or does not hold PEM data.
   */
  async load(): Promise<void> {
    if (this.#rules.length === 0) return;
    const next: Loaded[] = [];
    for (const rule of this.#rules) {
      const [cert, key] = await Promise.all([readPem(rule.cert), readPem(rule.key)]);
      if (!cert.includes("CERTIFICATE")) {
        throw new Error(`${rule.cert}: no PEM certificate in file`);
      }
      if (!key.includes("PRIVATE KEY")) throw new Error(`${rule.key}: no PEM private key in file`);
      next.push({ rule, pem: { cert, key } });
    }
    this.#loaded = next;
  }

  /** The pair for a server name (lower case), or the fallback; null when nothing matches. */
  resolve(serverName: string | null | undefined): PemPair | null {
    const name = (serverName ?? "").toLowerCase();
    for (const l of this.#loaded) if (ruleMatches(l.rule, name)) return l.pem;
    return null;
  }

  /** The pair used to start a listener (the fallback, else the first). */
  get initial(): PemPair {
    const pem = this.resolve("") ?? this.#loaded[0]?.pem;
    if (pem === undefined) throw new Error("No certificate loaded");
    return pem;
  }
}

/** True when `name` (lower case; empty without SNI) matches a rule. */
export function ruleMatches(rule: SniRule, name: string): boolean {
  if (rule.regex === undefined) return matches(rule.pattern, name);
  return name !== "" && rule.regex.test(name);
}

/** True when `name` matches an SNI pattern. */
export function matches(pattern: string, name: string): boolean {
  if (pattern === "*") return true;
  if (pattern.startsWith("*.")) {
    const suffix = pattern.slice(1).toLowerCase();
    if (!name.endsWith(suffix)) return false;
    const label = name.slice(0, -suffix.length);
    return label.length > 0 && !label.includes(".");
  }
  return pattern.toLowerCase() === name;
}

async function readPem(file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read certificate file: ${(e as Error).message}`);
  }
}
