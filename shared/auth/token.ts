/**
 * Operator bearer tokens: made by `burrow token`, given to the operator
 * once, and stored on the server only as a hash (`operators.d/<name>.jsonc`,
 * key `token`).
 *
 * Why a fast hash is enough here: a token is 32 random bytes (256 bits) from
 * the system's CSPRNG. A slow, salted hash (SHA-512 crypt, bcrypt) exists to
 * make guessing a *low-entropy* password from its hash expensive; for a
 * uniformly random 256-bit value, guessing is out of reach whatever the hash
 * costs, and a single SHA-256 is a one-way function over it. Salt adds
 * nothing either: no two tokens are alike and no table can cover 2^256
 * values. In exchange a check costs about a microsecond, so a flood of wrong
 * tokens costs the server nothing and no result cache is needed. A `$6$`
 * hash is accepted too (for a token a person chose), at the price of one
 * SHA-512 crypt per `$6$` operator file for every token that matched no
 * `sha256:` entry.
 *
 * Every comparison uses `timingSafeEqual` over whole digests, and every
 * stored `sha256:` entry is compared for every token (no early exit), so
 * neither the time nor the order of the files tells anything.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

/** Prefix of the tokens `burrow token` makes (so secret scanners and people recognise them). */
export const TOKEN_PREFIX = "burrow_";

/** Random bytes in a token made by {@link generateToken}. */
export const TOKEN_BYTES = 32;

/** Prefix of a stored SHA-256 token hash: `sha256:` then 64 lower-case hex digits. */
export const SHA256_PREFIX = "sha256:";

/** A stored `sha256:` hash, whole. */
const SHA256_HASH = /^sha256:[0-9a-f]{64}$/;

/**
 * Makes a new operator token: `burrow_` and 43 base64url characters
 * (32 random bytes from `crypto.getRandomValues`).
 *
 * @example
 * ```ts
 * import { generateToken } from "./token.ts";
 * generateToken(); // "burrow_Vx2…" (50 characters)
 * ```
 */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(TOKEN_BYTES));
  return TOKEN_PREFIX + Buffer.from(bytes).toString("base64url");
}

/** SHA-256 of `text` (UTF-8). */
function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/**
 * The stored form of `token`: `sha256:` and the hex SHA-256 of its UTF-8.
 *
 * @throws {RangeError} when `token` is empty.
 * @example
 * ```ts
 * import { hashToken } from "./token.ts";
 * hashToken("abc"); // "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * ```
 */
export function hashToken(token: string): string {
  if (token === "") throw new RangeError("Cannot hash an empty token");
  return SHA256_PREFIX + createHash("sha256").update(token).digest("hex");
}

/**
 * Whether `stored` is a whole `sha256:` token hash (64 lower-case hex digits).
 *
 * @example
 * ```ts
 * import { hashToken, isTokenHash } from "./token.ts";
 * isTokenHash(hashToken("abc")); // true
 * isTokenHash("sha256:abc"); // false
 * ```
 */
export function isTokenHash(stored: string): boolean {
  return SHA256_HASH.test(stored);
}

/** Decodes a `sha256:` hash to its 32 bytes. */
function digestOf(stored: string): Uint8Array {
  return new Uint8Array(Buffer.from(stored.slice(SHA256_PREFIX.length), "hex"));
}

/** A byte comparison that takes the same time for any two inputs of one length. */
export type EqualBytes = (a: Uint8Array, b: Uint8Array) => boolean;

/** The comparison {@link TokenTable} uses unless told otherwise: `node:crypto`'s `timingSafeEqual`. */
export const DEFAULT_EQUAL: EqualBytes = timingSafeEqual;

/** Checks a `$6$` entry: `(token, stored) => matches` (sync or async). */
export type SlowVerify = (plain: string, stored: string) => boolean | Promise<boolean>;

/** Options of {@link TokenTable}. */
export interface TokenTableOptions {
  /** Constant-time comparison of digests. Default {@link DEFAULT_EQUAL}; tests pass a counting one. */
  equal?: EqualBytes;
  /** Verifier of `$6$` entries. Default: none, so `$6$` entries match nothing. */
  verifySlow?: SlowVerify;
}

/**
 * The owner of a presented token among stored hashes: every `sha256:` entry
 * is compared in constant time (all of them, whatever matched), then, when
 * none matched, each `$6$` entry through `verifySlow`.
 *
 * @example
 * ```ts
 * import { hashToken, TokenTable } from "./token.ts";
 * const table = new TokenTable([{ owner: "alice", stored: hashToken("burrow_abc") }]);
 * await table.find("burrow_abc"); // "alice"
 * await table.find("burrow_xyz"); // undefined
 * ```
 */
export class TokenTable<T> {
  readonly #fast: { owner: T; digest: Uint8Array }[] = [];
  readonly #slow: { owner: T; stored: string }[] = [];
  readonly #equal: EqualBytes;
  readonly #verifySlow: SlowVerify | undefined;

  /** A table of `entries`; entries that are neither `sha256:` nor `$6$` are left out. */
  constructor(entries: Iterable<{ owner: T; stored: string }>, options: TokenTableOptions = {}) {
    this.#equal = options.equal ?? DEFAULT_EQUAL;
    this.#verifySlow = options.verifySlow;
    for (const { owner, stored } of entries) {
      if (isTokenHash(stored)) this.#fast.push({ owner, digest: digestOf(stored) });
      else if (stored.startsWith("$6$")) this.#slow.push({ owner, stored });
    }
  }

  /** Number of entries that can match. */
  get size(): number {
    return this.#fast.length + this.#slow.length;
  }

  /** The owner of `token`, or undefined when no entry matches (or `token` is empty). */
  async find(token: string): Promise<T | undefined> {
    if (token === "") return undefined;
    const digest = sha256(token);
    let found: T | undefined;
    for (const entry of this.#fast) {
      // No early exit: the time does not depend on which entry (if any) matched.
      if (this.#equal(digest, entry.digest) && found === undefined) found = entry.owner;
    }
    if (found !== undefined || this.#verifySlow === undefined) return found;
    for (const entry of this.#slow) {
      if (await this.#verifySlow(token, entry.stored)) return entry.owner;
    }
    return undefined;
  }
}
