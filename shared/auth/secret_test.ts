import assert from "node:assert/strict";
import { decoyFor, hashSecret, MAX_SECRET_LENGTH, SecretVerifier, verifySecret } from "./secret.ts";
import { isSha512CryptHash, parseSetting, sha512Crypt } from "./sha512_crypt.ts";

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

Deno.test("a secret longer than MAX_SECRET_LENGTH is refused without hashing it (crypt is quadratic)", async () => {
  const stored = hashSecret("change-me-please");
  let crypts = 0;
  const verifier = new SecretVerifier({
    crypt: (plain, setting) => (crypts++, sha512Crypt(plain, setting)),
  });
  const long = "x".repeat(MAX_SECRET_LENGTH + 1);
  assert.equal(await verifier.verify(long, stored), false);
  assert.equal(verifySecret(long, stored), false);
  assert.equal(crypts, 0, "a 60 KB Basic-auth password cost 15 s of hash worker");
  assert.equal(await verifier.verify("x".repeat(MAX_SECRET_LENGTH), stored), false);
  assert.equal(crypts, 1, "a secret at the limit is checked");
  assert.throws(() => hashSecret(long), RangeError);
});

Deno.test("SecretVerifier caches $6$ results, bounded, least recently used out first", async () => {
  let crypts = 0;
  const verifier = new SecretVerifier({
    cacheSize: 2,
    crypt: (plain, setting) => {
      crypts++;
      return sha512Crypt(plain, setting);
    },
  });
  assert.equal(await verifier.verify("secret", OPENSSL), true);
  assert.equal(await verifier.verify("secret", OPENSSL), true);
  assert.equal(crypts, 1, "second check is served from the cache");
  assert.equal(await verifier.verify("wrong", OPENSSL), false);
  assert.equal(await verifier.verify("wrong", OPENSSL), false);
  assert.equal(crypts, 2, "failures are cached too");
  assert.equal(verifier.cached, 2);
  await verifier.verify("secret", OPENSSL); // touch: "wrong" is now the oldest
  assert.equal(await verifier.verify("third", OPENSSL), false);
  assert.equal(crypts, 3);
  assert.equal(verifier.cached, 2);
  await verifier.verify("secret", OPENSSL);
  assert.equal(crypts, 3, "recently used entry survived");
  await verifier.verify("wrong", OPENSSL);
  assert.equal(crypts, 4, "oldest entry was evicted");
  assert.equal(await verifier.verify("secret", "secret"), true);
  assert.equal(crypts, 4, "plain text needs no crypt");
});

Deno.test("SecretVerifier with cacheSize 0 keeps nothing", async () => {
  let crypts = 0;
  const verifier = new SecretVerifier({
    cacheSize: 0,
    crypt: (plain, setting) => (crypts++, sha512Crypt(plain, setting)),
  });
  await verifier.verify("secret", OPENSSL);
  await verifier.verify("secret", OPENSSL);
  assert.equal(crypts, 2);
  assert.equal(verifier.cached, 0);
});

Deno.test("SecretVerifier keys its cache on the stored hash too", async () => {
  const verifier = new SecretVerifier();
  const storedAb = sha512Crypt("ab", "$6$saltsalt");
  const storedCd = sha512Crypt("cd", "$6$saltsalt");
  assert.equal(await verifier.verify("ab", storedAb), true);
  assert.equal(await verifier.verify("ab", storedCd), false);
  assert.equal(await verifier.verify("a", storedAb), false);
  assert.equal(await verifier.verify("ab", storedAb), true);
});

Deno.test("SecretVerifier runs one crypt for concurrent checks of one pair", async () => {
  let crypts = 0;
  const release = Promise.withResolvers<void>();
  const verifier = new SecretVerifier({
    crypt: async (plain, setting) => {
      crypts++;
      await release.promise;
      return sha512Crypt(plain, setting);
    },
  });
  const checks = [verifier.verify("secret", OPENSSL), verifier.verify("secret", OPENSSL)];
  release.resolve();
  assert.deepEqual(await Promise.all(checks), [true, true]);
  assert.equal(crypts, 1);
});

Deno.test("SecretVerifier caches nothing when the crypt function throws", async () => {
  let fail = true;
  const verifier = new SecretVerifier({
    crypt: (plain, setting) => {
      if (fail) throw new Error("busy");
      return sha512Crypt(plain, setting);
    },
  });
  await assert.rejects(verifier.verify("secret", OPENSSL), /busy/);
  assert.equal(verifier.cached, 0);
  fail = false;
  assert.equal(await verifier.verify("secret", OPENSSL), true);
});

Deno.test("decoyFor() shapes a decoy like the stored value: same rounds, stable per seed", () => {
  const decoy = decoyFor(MKPASSWD_ROUNDS, "app.test\nnobody");
  assert.match(decoy, /^\$6\$rounds=1000\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  assert.equal(decoy, decoyFor(MKPASSWD_ROUNDS, "app.test\nnobody"));
  assert.notEqual(decoy, decoyFor(MKPASSWD_ROUNDS, "app.test\nsomebody"));
  assert.equal(parseSetting(decoyFor(OPENSSL, "x")).explicitRounds, false);
  assert.equal(parseSetting(decoyFor(OPENSSL, "x")).rounds, 5000);
  assert.equal(isSha512CryptHash(decoyFor(OPENSSL, "x")), true);
  assert.equal(decoyFor("plain-password", "x").length, "plain-password".length);
  assert.equal(verifySecret("", decoyFor(OPENSSL, "")), false);
});
