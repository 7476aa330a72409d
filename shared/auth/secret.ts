/**
 * Shared secrets and passwords as stored in config files: plain text, or a
 * SHA-512 crypt hash (`$6$…`, from `burrow password`, `mkpasswd -m sha-512`
 * or `openssl passwd -6`). Comparisons take the same time whatever the input.
 *
 * @module
 */

import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import {
  CRYPT_ALPHABET,
  DEFAULT_ROUNDS,
  isSha512CryptHash,
  parseSetting,
  randomSalt,
  sha512Crypt,
} from "./sha512_crypt.ts";

export { isSha512CryptHash } from "./sha512_crypt.ts";

/**
 * Longest secret, in characters, that is hashed or checked against a `$6$`
 * hash. SHA-512 crypt costs time quadratic in the secret's length (its step
 * 13 hashes the secret once per byte): 10,000 characters took 0.75 s, 60,000
 * (a Basic-auth header within the 64 KiB cap) 15 s of a hash worker, so a few
 * such requests would keep every real login waiting. Longer secrets are
 * refused unchecked.
 */
export const MAX_SECRET_LENGTH = 512;

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
 * @throws {RangeError} when `plain` is empty or longer than {@link MAX_SECRET_LENGTH}.
 * @example
 * ```ts
 * import { hashSecret, verifySecret } from "./secret.ts";
 * const stored = hashSecret("change-me-please"); // "$6$<salt>$<86 characters>"
 * verifySecret("change-me-please", stored); // true
 * ```
 */
export function hashSecret(plain: string): string {
  if (plain === "") throw new RangeError("Cannot hash an empty secret");
  if (plain.length > MAX_SECRET_LENGTH) {
    throw new RangeError(
      `Cannot hash a secret of ${plain.length} characters: at most ${MAX_SECRET_LENGTH}`,
    );
  }
  return sha512Crypt(plain, `$6$${randomSalt()}`);
}

/** A SHA-512 crypt function: synchronous, or run elsewhere (a `CryptPool` (`crypt_pool.ts`)). */
export type CryptFunction = (plain: string, setting: string) => string | Promise<string>;

/** Options of {@link SecretVerifier}. */
export interface SecretVerifierOptions {
  /** Results kept (least recently used go first). Default {@link DEFAULT_CACHE_SIZE}; 0 disables. */
  cacheSize?: number;
  /**
   * The `$6$` function: the server passes a `CryptPool` (`crypt_pool.ts`)'s `crypt`; tests
   * pass a counting wrapper. Default SHA-512 crypt on the calling thread.
   */
  crypt?: CryptFunction;
}

/**
 * Checks presented secrets against stored ones, remembering recent `$6$`
 * results so a client sending the same basic-auth header on every request
 * pays the milliseconds of SHA-512 crypt once. The cache holds SHA-256
 * digests of (presented, stored) pairs and booleans, never the secrets.
 * Concurrent checks of one pair share one hash computation.
 *
 * @example
 * ```ts
 * import { SecretVerifier } from "./secret.ts";
 * import { CryptPool } from "./crypt_pool.ts";
 * const pool = new CryptPool();
 * const verifier = new SecretVerifier({ cacheSize: 100, crypt: (p, s) => pool.crypt(p, s) });
 * await verifier.verify("hunter2", "hunter2"); // true
 * pool.close();
 * ```
 */
export class SecretVerifier {
  readonly #cache = new Map<string, boolean>();
  readonly #inflight = new Map<string, Promise<boolean>>();
  readonly #cacheSize: number;
  readonly #crypt: CryptFunction;

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
   * An empty `stored` and a malformed `$6$` hash match nothing, nor does a
   * `plain` longer than {@link MAX_SECRET_LENGTH} for a `$6$` hash (unhashed).
   *
   * @throws whatever the crypt function throws (a `CryptPool` (`crypt_pool.ts`) that is busy); nothing is cached then.
   */
  verify(plain: string, stored: string): Promise<boolean> {
    if (stored === "") return Promise.resolve(false);
    if (!stored.startsWith("$6$")) return Promise.resolve(constantTimeEqual(plain, stored));
    if (!isSha512CryptHash(stored)) return Promise.resolve(false);
    if (plain.length > MAX_SECRET_LENGTH) return Promise.resolve(false);
    const key = createHash("sha256").update(`${plain.length}:${plain}\n${stored}`).digest("hex");
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      this.#cache.delete(key); // re-insert: Map order is recency order
      this.#cache.set(key, hit);
      return Promise.resolve(hit);
    }
    const running = this.#inflight.get(key);
    if (running !== undefined) return running;
    const check = this.#check(key, plain, stored);
    this.#inflight.set(key, check);
    // Settled callbacks run later than this line, even for a crypt that threw at once.
    check.then(() => this.#inflight.delete(key), () => this.#inflight.delete(key));
    return check;
  }

  async #check(key: string, plain: string, stored: string): Promise<boolean> {
    const result = constantTimeEqual(await this.#crypt(plain, stored), stored);
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

/**
 * Whether `plain` (what a client or agent presented) matches `stored` (what a
 * config file holds): `$6$` hashes are verified as SHA-512 crypt, other
 * values compared as plain text, always in constant time. An empty `stored`
 * matches nothing. Nothing is cached, and a `$6$` check holds the calling
 * thread for milliseconds: for one-off checks (the command line, tests); the
 * server uses a {@link SecretVerifier} over a `CryptPool` (`crypt_pool.ts`).
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
  if (stored === "") return false;
  if (!stored.startsWith("$6$")) return constantTimeEqual(plain, stored);
  if (!isSha512CryptHash(stored) || plain.length > MAX_SECRET_LENGTH) return false;
  return constantTimeEqual(sha512Crypt(plain, stored), stored);
}

/** Key of the decoys made by this process: a decoy cannot be told from a real hash. */
const DECOY_KEY = randomBytes(32);

/**
 * A stored value shaped like `stored` that nothing matches, the same for the
 * same `seed` in one process: for a user that does not exist, so that
 * checking a password for it costs what checking one for `stored` costs (a
 * `$6$` hash of the same rounds, verified and cached the same way) and timing
 * does not tell which users exist.
 *
 * @example
 * ```ts
 * import { decoyFor } from "./secret.ts";
 * decoyFor("$6$rounds=10000$saltsalt$" + "a".repeat(86), "app.test/nobody");
 * // "$6$rounds=10000$<16 characters>$<86 characters>"
 * ```
 */
export function decoyFor(stored: string, seed: string): string {
  const digest = createHmac("sha512", DECOY_KEY).update(seed).digest();
  const chars = (from: number, n: number) =>
    Array.from(digest.subarray(from, from + n), (b) => CRYPT_ALPHABET[b & 0x3f]).join("");
  if (!stored.startsWith("$6$")) return chars(0, Math.max(1, Math.min(64, stored.length)));
  let rounds = DEFAULT_ROUNDS;
  let explicit = false;
  try {
    ({ rounds, explicitRounds: explicit } = parseSetting(stored));
  } catch {
    // A malformed hash matches nothing at no cost; the decoy costs the default.
  }
  const tail = chars(16, 48) + chars(0, 38); // 86 characters
  return `$6$${explicit ? `rounds=${rounds}$` : ""}${chars(0, 16)}$${tail}`;
}
