import assert from "node:assert/strict";
import { timingSafeEqual } from "node:crypto";
import { hashSecret } from "./secret.ts";
import {
  DEFAULT_EQUAL,
  generateToken,
  hashToken,
  isTokenHash,
  TOKEN_PREFIX,
  TokenTable,
} from "./token.ts";

Deno.test("generateToken() makes burrow_ and 43 base64url characters, never twice the same", () => {
  const tokens = new Set(Array.from({ length: 100 }, generateToken));
  assert.equal(tokens.size, 100);
  for (const token of tokens) assert.match(token, /^burrow_[A-Za-z0-9_-]{43}$/);
  assert.ok([...tokens][0]!.startsWith(TOKEN_PREFIX));
});

Deno.test("hashToken() is sha256: and the hex SHA-256 (FIPS 180-2 vector), refusing empty", () => {
  assert.equal(
    hashToken("abc"),
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.throws(() => hashToken(""), RangeError);
});

Deno.test("isTokenHash() accepts only a whole lower-case sha256: hash", () => {
  const cases: [string, boolean][] = [
    [hashToken("x"), true],
    [hashToken("x").toUpperCase(), false],
    [hashToken("x").slice(0, -1), false],
    [`${hashToken("x")}0`, false],
    ["sha256:", false],
    ["burrow_abc", false],
  ];
  for (const [stored, expected] of cases) assert.equal(isTokenHash(stored), expected, stored);
});

Deno.test("TokenTable.find() names the owner of a token, or nothing", async () => {
  const alice = generateToken();
  const bob = generateToken();
  const table = new TokenTable([
    { owner: "alice", stored: hashToken(alice) },
    { owner: "bob", stored: hashToken(bob) },
    { owner: "plain", stored: "not-a-hash" },
  ]);
  assert.equal(table.size, 2, "an entry that is not a hash is left out");
  assert.equal(await table.find(alice), "alice");
  assert.equal(await table.find(bob), "bob");
  assert.equal(await table.find(generateToken()), undefined);
  assert.equal(await table.find(""), undefined);
  assert.equal(await table.find("not-a-hash"), undefined, "a stored value is not a token");
});

Deno.test("TokenTable compares with timingSafeEqual, every entry, whichever matched", async () => {
  assert.equal(DEFAULT_EQUAL, timingSafeEqual);
  const tokens = [generateToken(), generateToken(), generateToken()];
  let calls = 0;
  const table = new TokenTable(
    tokens.map((token, i) => ({ owner: i, stored: hashToken(token) })),
    {
      equal: (a, b) => {
        calls++;
        assert.equal(a.length, 32);
        assert.equal(b.length, 32);
        return timingSafeEqual(a, b);
      },
    },
  );
  for (const [i, token] of tokens.entries()) {
    calls = 0;
    assert.equal(await table.find(token), i);
    assert.equal(calls, 3, `token ${i}: all three entries compared`);
  }
  calls = 0;
  assert.equal(await table.find("wrong"), undefined);
  assert.equal(calls, 3);
});

Deno.test("TokenTable tries $6$ entries only when no sha256: entry matched", async () => {
  const fast = generateToken();
  const slowEntries: string[] = [];
  const table = new TokenTable([
    { owner: "fast", stored: hashToken(fast) },
    { owner: "slow", stored: hashSecret("chosen by a person") },
  ], {
    verifySlow: (plain, stored) => {
      slowEntries.push(stored);
      return plain === "chosen by a person" && stored.startsWith("$6$");
    },
  });
  assert.equal(await table.find(fast), "fast");
  assert.equal(slowEntries.length, 0);
  assert.equal(await table.find("chosen by a person"), "slow");
  assert.equal(await table.find("wrong"), undefined);
  assert.equal(slowEntries.length, 2);
  const without = new TokenTable([{ owner: "slow", stored: hashSecret("chosen") }]);
  assert.equal(await without.find("chosen"), undefined, "no verifier: $6$ matches nothing");
});
