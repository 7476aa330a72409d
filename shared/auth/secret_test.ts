import assert from "node:assert/strict";
import { hashSecret, SecretVerifier, verifySecret } from "./secret.ts";
import { sha512Crypt } from "./sha512_crypt.ts";

// openssl passwd -6 -salt saltsalt secret
const OPENSSL =
  "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
// mkpasswd -m sha-512 -R 1000 -S saltsalt secret
const MKPASSWD_ROUNDS =
  "$6$rounds=1000$saltsalt$LAV5VE5Y7w1d73x1mFNspYWUpazfmwv2SoepNXNKJ/otop/Zok96Hr8Q13LEv0DRY/x8v0/crpIjl8NJSAqXV/";

/** [presented, stored, expected] */
const CASES: [string, string, boolean][] = [
  ["secret", OPENSSL, true],
  ["Secret", OPENSSL, false],
  ["secret ", OPENSSL, false],
  ["", OPENSSL, false],
  ["secret", MKPASSWD_ROUNDS, true],
  ["secreT", MKPASSWD_ROUNDS, false],
  ["secret", "secret", true],
  ["secret", "secret2", false],
  ["secret2", "secret", false],
  ["", "", false],
  ["secret", "", false],
  ["", "x", false],
  ["pässwörd", "pässwörd", true],
  // A malformed $6$ value is neither a hash nor compared as plain text.
  ["$6$saltsalt$short", "$6$saltsalt$short", false],
  ["secret", OPENSSL.slice(0, -1), false],
];

Deno.test("verifySecret() checks $6$ hashes and plain text", () => {
  for (const [presented, stored, expected] of CASES) {
    assert.equal(verifySecret(presented, stored), expected, `${presented} vs ${stored}`);
  }
});

Deno.test("hashSecret() makes a $6$ hash with a 16-character salt that verifies", () => {
  const stored = hashSecret("change-me-please");
  assert.match(stored, /^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  assert.equal(verifySecret("change-me-please", stored), true);
  assert.equal(verifySecret("change-me-pleasE", stored), false);
  assert.notEqual(hashSecret("change-me-please"), stored, "salts differ");
});

Deno.test("hashSecret() refuses an empty secret", () => {
  assert.throws(() => hashSecret(""), RangeError);
});

Deno.test("SecretVerifier caches $6$ results, bounded, least recently used out first", () => {
  let crypts = 0;
  const verifier = new SecretVerifier({
    cacheSize: 2,
    crypt: (plain, setting) => {
      crypts++;
      return sha512Crypt(plain, setting);
    },
  });
  assert.equal(verifier.verify("secret", OPENSSL), true);
  assert.equal(verifier.verify("secret", OPENSSL), true);
  assert.equal(crypts, 1, "second check is served from the cache");
  assert.equal(verifier.verify("wrong", OPENSSL), false);
  assert.equal(verifier.verify("wrong", OPENSSL), false);
  assert.equal(crypts, 2, "failures are cached too");
  assert.equal(verifier.cached, 2);
  verifier.verify("secret", OPENSSL); // touch: "wrong" is now the oldest
  assert.equal(verifier.verify("third", OPENSSL), false);
  assert.equal(crypts, 3);
  assert.equal(verifier.cached, 2);
  verifier.verify("secret", OPENSSL);
  assert.equal(crypts, 3, "recently used entry survived");
  verifier.verify("wrong", OPENSSL);
  assert.equal(crypts, 4, "oldest entry was evicted");
  assert.equal(verifier.verify("secret", "secret"), true);
  assert.equal(crypts, 4, "plain text needs no crypt");
});

Deno.test("SecretVerifier with cacheSize 0 keeps nothing", () => {
  let crypts = 0;
  const verifier = new SecretVerifier({
    cacheSize: 0,
    crypt: (plain, setting) => (crypts++, sha512Crypt(plain, setting)),
  });
  verifier.verify("secret", OPENSSL);
  verifier.verify("secret", OPENSSL);
  assert.equal(crypts, 2);
  assert.equal(verifier.cached, 0);
});

Deno.test("SecretVerifier keys its cache on the stored hash too", () => {
  const verifier = new SecretVerifier();
  const storedAb = sha512Crypt("ab", "$6$saltsalt");
  const storedCd = sha512Crypt("cd", "$6$saltsalt");
  assert.equal(verifier.verify("ab", storedAb), true);
  assert.equal(verifier.verify("ab", storedCd), false);
  assert.equal(verifier.verify("a", storedAb), false);
  assert.equal(verifier.verify("ab", storedAb), true);
});
