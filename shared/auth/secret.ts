/**
 * Shared secrets and passwords as stored in config files: plain text, or a
 * SHA-512 crypt hash (`$6$…`, from `burrow password`, `mkpasswd -m sha-512`
 * or `openssl passwd -6`). Comparisons take the same time whatever the input.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { isSha512CryptHash, randomSalt, sha512Crypt } from "./sha512_crypt.ts";

export { isSha512CryptHash } from "./sha512_crypt.ts";

/** How many verification results a {@link SecretVerifier} keeps by default. */
export const DEFAULT_CACHE_SIZE = 1000;

/** SHA-256 of `text` (UTF-8). */
function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** Whether `a` and `b` are equal, in time that depends on neither. */
function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/**
 * Hashes `plain` as a SHA-512 crypt `$6$` string with a random 16-character
 * salt and the default 5000 rounds, the form `mkpasswd -m sha-512` writes.
 *
 * @throws {RangeError} when `plain` is empty.
 * @example
 * ```ts
 * import { hashSecret, verifySecret } from "./secret.ts";
 * const stored = hashSecret("change-me-please"); // "$6$<salt>$<86 characters>"
 * verifySecret("change-me-please", stored); // true
 * ```
 */
export function hashSecret(plain: string): string {
  if (plain === "") throw new RangeError("Cannot hash an empty secret");
  return sha512Crypt(plain, `$6$${randomSalt()}`);
}

/** Options of {@link SecretVerifier}. */
export interface SecretVerifierOptions {
  /** Results kept (least recently used go first). Default {@link DEFAULT_CACHE_SIZE}; 0 disables. */
  cacheSize?: number;
  /** The `$6$` function; tests pass a counting wrapper. Default SHA-512 crypt. */
  crypt?: (plain: string, setting: string) => string;
}

/**
 * Checks presented secrets against stored ones, remembering recent `$6$`
 * results so a client sending the same basic-auth header on every request
 * pays the milliseconds of SHA-512 crypt once. The cache holds SHA-256
 * digests of (presented, stored) pairs and booleans, never the secrets.
 *
 * @example
 * ```ts
 * import { SecretVerifier } from "./secret.ts";
 * const verifier = new SecretVerifier({ cacheSize: 100 });
 * verifier.verify("hunter2", "hunter2"); // true
 * ```
 */
export class SecretVerifier {
  readonly #cache = new Map<string, boolean>();
  readonly #cacheSize: number;
  readonly #crypt: (plain: string, setting: string) => string;

  /** Creates a verifier with its own cache. */
  constructor(options: SecretVerifierOptions = {}) {
    this.#cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.#crypt = options.crypt ?? sha512Crypt;
  }

  /** Number of results cached. */
  get cached(): number {
    return this.#cache.size;
  }

  /**
   * Whether `plain` matches `stored`: a `$6$` hash is verified as SHA-512
   * crypt (`rounds=N$` accepted), anything else is compared as plain text.
   * An empty `stored` and a malformed `$6$` hash match nothing.
   */
  verify(plain: string, stored: string): boolean {
    if (stored === "") return false;
    if (!stored.startsWith("$6$")) return constantTimeEqual(plain, stored);
    if (!isSha512CryptHash(stored)) return false;
    const key = createHash("sha256").update(`${plain.length}:${plain}\n${stored}`).digest("hex");
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      this.#cache.delete(key); // re-insert: Map order is recency order
      this.#cache.set(key, hit);
      return hit;
    }
    const result = constantTimeEqual(this.#crypt(plain, stored), stored);
    this.#remember(key, result);
    return result;
  }

  #remember(key: string, result: boolean): void {
    if (this.#cacheSize <= 0) return;
    this.#cache.set(key, result);
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next();
      if (oldest.done === true) break;
      this.#cache.delete(oldest.value);
    }
  }
}

/** The process-wide verifier behind {@link verifySecret}. */
const shared = new SecretVerifier();

/**
 * Whether `plain` (what a client or agent presented) matches `stored` (what a
 * config file holds): `$6$` hashes are verified as SHA-512 crypt, other
 * values compared as plain text, always in constant time. An empty `stored`
 * matches nothing. Recent `$6$` results are cached (1,000 entries).
 *
 * @example
 * ```ts
 * import { verifySecret } from "./secret.ts";
 * verifySecret("secret", "secret"); // true
 * verifySecret(
 *   "secret",
 *   "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1",
 * ); // true
 * ```
 */
export function verifySecret(plain: string, stored: string): boolean {
  return shared.verify(plain, stored);
}
