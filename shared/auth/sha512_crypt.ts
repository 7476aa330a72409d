/**
 * SHA-512 crypt (`$6$`), as specified by Ulrich Drepper ("Unix crypt using
 * SHA-256 and SHA-512") and produced by glibc/libxcrypt `crypt(3)`,
 * `mkpasswd -m sha-512` and `openssl passwd -6`. Built on `node:crypto`'s
 * SHA-512; checked against vectors from all three in `sha512_crypt_test.ts`.
 *
 * Written here rather than taken from npm: `unixcrypt@3.0.4` gives wrong
 * hashes for passwords whose UTF-8 length is a multiple of 64 bytes, and
 * `sha512-crypt-ts@0.1.27` gives wrong hashes for non-ASCII passwords and
 * refuses salts shorter than 8 characters.
 *
 * @module
 */

import { createHash, randomInt } from "node:crypto";
import { Buffer } from "node:buffer";

/** Rounds used when a setting names none. */
export const DEFAULT_ROUNDS = 5000;
/** Fewest rounds a setting may name (libxcrypt refuses fewer). */
export const MIN_ROUNDS = 1000;
/** Most rounds a setting may name. */
export const MAX_ROUNDS = 999_999_999;
/** Longest salt, in characters; longer salts are cut. */
export const MAX_SALT_LENGTH = 16;

/** The crypt base-64 alphabet (not RFC 4648's). */
export const CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * A full `$6$` hash: optional `rounds=N$`, a salt of up to 16 characters
 * (no `$`, `:` or whitespace), and 86 characters of digest.
 */
const HASH_PATTERN = /^\$6\$(?:rounds=([1-9][0-9]{0,9})\$)?([^$:\s]{0,16})\$([./0-9A-Za-z]{86})$/;

/** A parsed `$6$` setting: the part of a hash before the digest. */
export interface Sha512CryptSetting {
  /** Rounds of the main loop. */
  rounds: number;
  /** Whether `rounds=N$` is written in the output (it is when the setting named it). */
  explicitRounds: boolean;
  /** Salt, at most 16 characters. */
  salt: string;
}

/**
 * Parses a setting such as `$6$saltsalt`, `$6$rounds=10000$saltsalt` or a
 * whole hash (the digest after the salt is ignored). The salt is cut to 16
 * characters, like `crypt(3)` does.
 *
 * @throws {TypeError} when it does not start with `$6$`, the rounds are out of
 * range, or the salt holds `:`, whitespace or non-ASCII characters.
 * @example
 * ```ts
 * import { parseSetting } from "./sha512_crypt.ts";
 * parseSetting("$6$rounds=10000$saltsalt"); // { rounds: 10000, explicitRounds: true, salt: "saltsalt" }
 * ```
 */
export function parseSetting(setting: string): Sha512CryptSetting {
  if (!setting.startsWith("$6$")) {
    throw new TypeError(`Invalid SHA-512 crypt setting ${JSON.stringify(setting)}: must start $6$`);
  }
  let rest = setting.slice(3);
  let rounds = DEFAULT_ROUNDS;
  let explicitRounds = false;
  const match = /^rounds=([0-9]+)(?:\$|$)/.exec(rest);
  if (match !== null) {
    rounds = Number(match[1]);
    explicitRounds = true;
    if (rounds < MIN_ROUNDS || rounds > MAX_ROUNDS) {
      throw new TypeError(
        `Invalid SHA-512 crypt rounds ${rounds}: must be ${MIN_ROUNDS} to ${MAX_ROUNDS}`,
      );
    }
    rest = rest.slice(match[0].length);
  }
  const dollar = rest.indexOf("$");
  const salt = (dollar < 0 ? rest : rest.slice(0, dollar)).slice(0, MAX_SALT_LENGTH);
  if (!/^[!-~]*$/.test(salt) || salt.includes(":")) {
    throw new TypeError(`Invalid SHA-512 crypt salt ${JSON.stringify(salt)}`);
  }
  return { rounds, explicitRounds, salt };
}

/**
 * Whether `text` is a complete, well-formed `$6$` hash.
 *
 * @example
 * ```ts
 * import { isSha512CryptHash } from "./sha512_crypt.ts";
 * isSha512CryptHash("$6$saltsalt$" + "a".repeat(86)); // true
 * isSha512CryptHash("$6$saltsalt$short"); // false
 * ```
 */
export function isSha512CryptHash(text: string): boolean {
  const match = HASH_PATTERN.exec(text);
  if (match === null) return false;
  const rounds = match[1] === undefined ? DEFAULT_ROUNDS : Number(match[1]);
  return rounds >= MIN_ROUNDS && rounds <= MAX_ROUNDS;
}

/** `length` bytes made of `digest` repeated (steps 16 and 20 of the spec). */
function repeatTo(digest: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let offset = 0; offset < length; offset += digest.length) {
    out.set(digest.subarray(0, Math.min(digest.length, length - offset)), offset);
  }
  return out;
}

/** SHA-512 of the concatenation of `parts`. */
function sha512(...parts: Uint8Array[]): Buffer {
  const hash = createHash("sha512");
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** Digest A: steps 1–12 of the spec. */
function digestA(password: Buffer, salt: Buffer): Buffer {
  const b = sha512(password, salt, password);
  const a = createHash("sha512").update(password).update(salt);
  let count = password.length;
  for (; count > 64; count -= 64) a.update(b);
  a.update(b.subarray(0, count));
  for (let bits = password.length; bits > 0; bits >>= 1) {
    a.update((bits & 1) !== 0 ? b : password);
  }
  return a.digest();
}

/** Step 21: `rounds` rounds of SHA-512 over the previous digest, password bytes and salt bytes. */
function mainLoop(a: Buffer, p: Buffer, s: Buffer, rounds: number): Buffer {
  let c = a;
  for (let i = 0; i < rounds; i++) {
    const hash = createHash("sha512");
    hash.update((i & 1) !== 0 ? p : c);
    if (i % 3 !== 0) hash.update(s);
    if (i % 7 !== 0) hash.update(p);
    hash.update((i & 1) !== 0 ? c : p);
    c = hash.digest();
  }
  return c;
}

/** Encodes the final digest in crypt's base 64 with its byte shuffle (step 22). */
function encodeDigest(digest: Uint8Array): string {
  let out = "";
  const put = (value: number, chars: number): void => {
    for (let i = 0; i < chars; i++, value >>= 6) out += CRYPT_ALPHABET[value & 0x3f];
  };
  for (let i = 0; i < 21; i++) {
    const bytes = [digest[i] ?? 0, digest[i + 21] ?? 0, digest[i + 42] ?? 0];
    const r = i % 3; // each group of three starts one byte later than the previous
    const [b2, b1, b0] = [bytes[r] ?? 0, bytes[(r + 1) % 3] ?? 0, bytes[(r + 2) % 3] ?? 0];
    put((b2 << 16) | (b1 << 8) | b0, 4);
  }
  put(digest[63] ?? 0, 2);
  return out;
}

/**
 * Computes the SHA-512 crypt hash of `password` (UTF-8) with `setting`
 * (`$6$salt`, `$6$rounds=N$salt`, or a whole hash to re-hash with its salt).
 *
 * @throws {TypeError} when `setting` is malformed (see {@link parseSetting}).
 * @example
 * ```ts
 * import { sha512Crypt } from "./sha512_crypt.ts";
 * sha512Crypt("secret", "$6$saltsalt");
 * // "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"
 * ```
 */
export function sha512Crypt(password: string, setting: string): string {
  const { rounds, explicitRounds, salt } = parseSetting(setting);
  const p = Buffer.from(password, "utf8");
  const s = Buffer.from(salt, "utf8");
  const a = digestA(p, s);
  const pBytes = repeatTo(sha512(...new Array<Buffer>(p.length).fill(p)), p.length);
  const sBytes = repeatTo(sha512(...new Array<Buffer>(16 + (a[0] ?? 0)).fill(s)), s.length);
  const c = mainLoop(a, pBytes, sBytes, rounds);
  const prefix = explicitRounds ? `$6$rounds=${rounds}$` : "$6$";
  return `${prefix}${salt}$${encodeDigest(c)}`;
}

/**
 * A random salt of `length` (default 16) characters from the crypt alphabet.
 *
 * @example
 * ```ts
 * import { randomSalt } from "./sha512_crypt.ts";
 * randomSalt().length; // 16
 * ```
 */
export function randomSalt(length: number = MAX_SALT_LENGTH): string {
  let salt = "";
  for (let i = 0; i < length; i++) salt += CRYPT_ALPHABET[randomInt(CRYPT_ALPHABET.length)];
  return salt;
}
