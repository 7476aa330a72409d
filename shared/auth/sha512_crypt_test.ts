import assert from "node:assert/strict";
import { isSha512CryptHash, parseSetting, randomSalt, sha512Crypt } from "./sha512_crypt.ts";

/**
 * [password, setting, expected hash]. Each expected hash was produced by a
 * real implementation, named in the comment: `openssl passwd -6 -salt S P`
 * (OpenSSL 3.0), `mkpasswd -m sha-512 [-R N] -S S P` (whois 5.x, libxcrypt),
 * or Perl's `crypt(P, S)` (libxcrypt); the Drepper spec's own examples agree.
 */
const VECTORS: [string, string, string][] = [
  // openssl passwd -6 -salt saltsalt secret
  [
    "secret",
    "$6$saltsalt",
    "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1",
  ],
  // mkpasswd -m sha-512 -R 5000 -S saltsalt secret (explicit default rounds are kept)
  [
    "secret",
    "$6$rounds=5000$saltsalt",
    "$6$rounds=5000$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1",
  ],
  // mkpasswd -m sha-512 -R 1000 -S saltsalt secret
  [
    "secret",
    "$6$rounds=1000$saltsalt",
    "$6$rounds=1000$saltsalt$LAV5VE5Y7w1d73x1mFNspYWUpazfmwv2SoepNXNKJ/otop/Zok96Hr8Q13LEv0DRY/x8v0/crpIjl8NJSAqXV/",
  ],
  // mkpasswd -m sha-512 -S 0123456789abcdef secret (16-character salt, as mkpasswd makes)
  [
    "secret",
    "$6$0123456789abcdef",
    "$6$0123456789abcdef$8CGkKDSyVpVlVNcs5PssRw/Tb8EgfecuA6D/zsRQFumJaU.s8KgTWWc2HfgkB7h2n1qIKiJFeSyUFrwvhILXy.",
  ],
  // openssl passwd -6 -salt saltsaltsaltsaltXX secret (salt cut to 16)
  [
    "secret",
    "$6$saltsaltsaltsaltXX",
    "$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1",
  ],
  // mkpasswd -m sha-512 -S saltsalt 'pässwörd €' (UTF-8 password)
  [
    "pässwörd €",
    "$6$saltsalt",
    "$6$saltsalt$IJF3ApjaEpb6nRgPYbAutZo9aj8lqly1n3WO4adAtlu2.Hj4WTBJAHX.Cd7vYHPudmSfuhUmRaYZS25ccvFp81",
  ],
  // openssl passwd -6 -salt saltsalt é (and Perl crypt of "\x{e9}" after utf8::encode)
  [
    "é",
    "$6$saltsalt",
    "$6$saltsalt$Qe9ybQcMc4wZL9QkXhFIrOp2iKIcAGeQAoJQFFf3WQ0FpFClkPXQ67PXagzcoBbRY.ousLUXNKPywlsPAkS5F1",
  ],
  // openssl passwd -6 -salt abc 'pässwörd €' (short salt)
  [
    "pässwörd €",
    "$6$abc",
    "$6$abc$/FZ2E3YE1B/GfNwb7s5INkqU4viGt92ublhreOa9oU9u55yJ7M08tl8bW4Wt.Lg6mbhXwGJ/QSpWikfeTLTKA0",
  ],
  // openssl passwd -6 -salt a x
  [
    "x",
    "$6$a",
    "$6$a$AvQLBHPFSbE4d9QOBrglBdXuv.jRoEFLHgWJlsZ6XhNHrxkMbotj9kAr0GGhdZ5XM6DM29/LJ9jZin3Aj8Tph0",
  ],
  // perl crypt("x", q($6$)) (empty salt)
  [
    "x",
    "$6$",
    "$6$$KvRrc0bxRLyTUhO8OJOmRczh7oCol5BACiR8rmdfVzvuGgm8JmLDumsL/ah.jFtT.DswxoP9Nv3ByfU4j5hm/0",
  ],
  // perl crypt("", q($6$abcdefgh)) (empty password)
  [
    "",
    "$6$abcdefgh",
    "$6$abcdefgh$v7sYNA18/BerGOYQLppYLyjH4yJilp8kqe/ef3KYMK9hOIdzH1yzcmP74Ay.m51y1jP3QqxM7Jl75S4CxDhBq.",
  ],
  // openssl passwd -6 -salt abcdefgh ccc…(63)
  [
    "c".repeat(63),
    "$6$abcdefgh",
    "$6$abcdefgh$Fzdp8ZoidWFzR3CHv/EbK4UgKOHRhgZQ64smkbbUBiwT5QCzIEWXqBi48oeqnd0nzAVjTU2SoltDbGt4uNy.d/",
  ],
  // mkpasswd -m sha-512 -S abcdefgh aaa…(64): a password of exactly one SHA-512 block
  [
    "a".repeat(64),
    "$6$abcdefgh",
    "$6$abcdefgh$Etjof.cNiiXcMdbpmp3ulT3YhgeyL3OnOJuKCO7a5DtGfeCsc3t4yl2d3JtXQm1POS6BEqOgmaNrfnWqiVrdY0",
  ],
  // perl crypt("x" x 64, q($6$abcdefgh))
  [
    "x".repeat(64),
    "$6$abcdefgh",
    "$6$abcdefgh$J74PEApZRYnxFxfV7YR9J1SNDZA/y9/0zjoD/.pAGZufEnXskYcAOuzejxsvcHUUKaiVU43hXJUUM0/I8NBis1",
  ],
  // openssl passwd -6 -salt abcdefgh ddd…(65)
  [
    "d".repeat(65),
    "$6$abcdefgh",
    "$6$abcdefgh$RW5mDKXfW8VHJ.KVZpgOFQz1vs3o8nJNY8NPE23x34UWdsmAm2UmCdC5kgXwQWw2r6/KnSnmfBlLOia70Vch1.",
  ],
  // openssl passwd -6 -salt abcdefgh bbb…(128): two blocks
  [
    "b".repeat(128),
    "$6$abcdefgh",
    "$6$abcdefgh$esYg1wJQNpMwwu9QYJAr1uNtr.C3y9DX/nUJt1tfKH8HgQQcXa1.r54J.QBnvnHjQq8zFMcsKEJe.zsg0B3Sd0",
  ],
  // perl crypt (and the Drepper spec): "Hello world!" with $6$saltstring
  [
    "Hello world!",
    "$6$saltstring",
    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
  ],
  // perl crypt (and the Drepper spec): rounds=1400, salt cut to 16
  [
    "a very much longer text to encrypt.  This one even stretches over morethan one line.",
    "$6$rounds=1400$anotherlongsaltstring",
    "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
  ],
];

Deno.test("sha512Crypt() matches openssl, mkpasswd and glibc crypt vectors", () => {
  for (const [password, setting, expected] of VECTORS) {
    assert.equal(sha512Crypt(password, setting), expected, `${password.length}: ${setting}`);
    assert.ok(isSha512CryptHash(expected), expected);
  }
});

Deno.test("sha512Crypt() re-hashes with the salt and rounds of a whole hash", () => {
  for (const [password, , expected] of VECTORS) {
    assert.equal(sha512Crypt(password, expected), expected);
  }
  const [, , first] = VECTORS[0]!;
  assert.notEqual(sha512Crypt("Secret", first), first);
});

Deno.test("parseSetting() reads rounds and salt and refuses bad settings", () => {
  assert.deepEqual(parseSetting("$6$saltsalt"), {
    rounds: 5000,
    explicitRounds: false,
    salt: "saltsalt",
  });
  assert.deepEqual(parseSetting("$6$rounds=10000$saltsalt$digest"), {
    rounds: 10000,
    explicitRounds: true,
    salt: "saltsalt",
  });
  for (
    const bad of [
      "$5$saltsalt",
      "saltsalt",
      "$6$rounds=999$salt",
      "$6$rounds=1000000000$s",
      "$6$a:b",
    ]
  ) {
    assert.throws(() => parseSetting(bad), TypeError, bad);
  }
});

Deno.test("isSha512CryptHash() accepts whole hashes only", () => {
  const digest = "a".repeat(86);
  assert.equal(isSha512CryptHash(`$6$salt$${digest}`), true);
  assert.equal(isSha512CryptHash(`$6$rounds=20000$salt$${digest}`), true);
  assert.equal(isSha512CryptHash(`$6$$${digest}`), true);
  assert.equal(isSha512CryptHash(`$6$salt$${digest.slice(1)}`), false);
  assert.equal(isSha512CryptHash(`$6$salt$${digest}=`), false);
  assert.equal(isSha512CryptHash(`$6$rounds=10$salt$${digest}`), false);
  assert.equal(isSha512CryptHash(`$6$saltsaltsaltsalts$${digest}`), false);
  assert.equal(isSha512CryptHash(`$5$salt$${digest}`), false);
  assert.equal(isSha512CryptHash("secret"), false);
});

Deno.test("randomSalt() draws 16 characters from the crypt alphabet", () => {
  const salts = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const salt = randomSalt();
    assert.match(salt, /^[./0-9A-Za-z]{16}$/);
    salts.add(salt);
  }
  assert.equal(salts.size, 50);
});
